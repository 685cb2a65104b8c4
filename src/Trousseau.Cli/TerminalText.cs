using System.Globalization;
using System.Text;

namespace Trousseau.Cli;

/// <summary>
/// Secret values, and the error line that may carry a server's words, as a terminal may show them: every control
/// character (C0, DEL and C1, so also ESC, which starts the sequences that move the cursor, clear the screen or set the
/// window title) written as an escape, <c>\t</c>, <c>\n</c>, <c>\r</c>, <c>\xHH</c> or <c>\u00HH</c>. Other
/// characters, backslashes included, are written as they are.
/// </summary>
internal static class TerminalText
{
    /// <summary>A value as one table cell: every control character escaped, so the row stays one line.</summary>
    public static string Cell(string value) => Escape(value, keepLineBreaks: false);

    /// <summary>A value printed alone: line feeds and tabs kept, every other control character escaped.</summary>
    public static string Value(string value) => Escape(value, keepLineBreaks: true);

    private static string Escape(string value, bool keepLineBreaks)
    {
        if (!value.Any(c => NeedsEscape(c, keepLineBreaks)))
        {
            return value;
        }

        var text = new StringBuilder(value.Length + 16);
        foreach (var c in value)
        {
            if (!NeedsEscape(c, keepLineBreaks))
            {
                text.Append(c);
                continue;
            }

            text.Append(c switch
            {
                '\t' => @"\t",
                '\n' => @"\n",
                '\r' => @"\r",
                < '\u0080' => string.Create(CultureInfo.InvariantCulture, $@"\x{(int)c:x2}"),
                _ => string.Create(CultureInfo.InvariantCulture, $@"\u{(int)c:x4}"),
            });
        }

        return text.ToString();
    }

    private static bool NeedsEscape(char c, bool keepLineBreaks) =>
        char.IsControl(c) && !(keepLineBreaks && c is '\n' or '\t');
}
