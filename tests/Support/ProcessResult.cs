namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>What a finished process left behind.</summary>
public sealed record ProcessResult(int ExitCode, string Stdout, string Stderr);
