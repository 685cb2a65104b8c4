namespace Trousseau.Cli;

/// <summary>Where clectl reads and writes: values and results on <see cref="Out"/>, one-line errors on <see cref="Error"/>.</summary>
internal sealed record CliConsole(TextReader In, TextWriter Out, TextWriter Error);
