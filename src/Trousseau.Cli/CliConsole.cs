namespace Trousseau.Cli;

/// <summary>Where clectl reads and writes: values and results on <see cref="Out"/>, one-line errors on <see cref="Error"/>.</summary>
/// <param name="In">Standard input.</param>
/// <param name="Out">Standard output.</param>
/// <param name="Error">Standard error.</param>
/// <param name="OutIsTerminal">Whether <paramref name="Out"/> is a terminal, where secret values are shown escaped.</param>
internal sealed record CliConsole(TextReader In, TextWriter Out, TextWriter Error, bool OutIsTerminal = false);
