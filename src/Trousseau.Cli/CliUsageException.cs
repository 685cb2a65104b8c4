namespace Trousseau.Cli;

/// <summary>The command line, or clectl's own configuration, is wrong; exit code 2.</summary>
internal sealed class CliUsageException(string message) : Exception(message);
