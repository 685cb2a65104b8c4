using System.Globalization;
using System.Text;

namespace Trousseau;

// Linked into Trousseau.Core, Trousseau.Hosting, Trousseau.Kms, Trousseau.Sqlite and Trousseau.Vault: how an error
// message or an audit line repeats a value the caller sent or the system reported, which may be megabytes long or hold
// control characters.

/// <summary>Text as a message repeats it: whole while short, otherwise its start followed by <c>…</c>.</summary>
internal static class Excerpt
{
    /// <summary><paramref name="text"/> itself, or its first <paramref name="maxLength"/> characters followed by <c>…</c>.</summary>
    public static string Of(string text, int maxLength) =>
        text.Length <= maxLength ? text : string.Concat(text.AsSpan(0, maxLength), "…");

    /// <summary>
    /// <paramref name="text"/> as a message may repeat it whatever it holds: its first <paramref name="maxLength"/>
    /// characters, with a backslash and each character that is not printable ASCII (a control character that would
    /// rewrite a terminal or a log line) written as a C# escape (<c>\\</c>, <c>\u001B</c>), followed by <c>…</c> when
    /// cut.
    /// </summary>
    public static string Escaped(string text, int maxLength)
    {
        var shown = text.AsSpan(0, Math.Min(text.Length, maxLength));
        var escaped = new StringBuilder(shown.Length + 1);
        foreach (var c in shown)
        {
            if (c == '\\')
            {
                escaped.Append(@"\\");
            }
            else if (c is >= ' ' and <= '~')
            {
                escaped.Append(c);
            }
            else
            {
                escaped.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
        }

        return (text.Length > maxLength ? escaped.Append('…') : escaped).ToString();
    }

    /// <summary>
    /// Whether <paramref name="text"/> may be repeated as it is: at most <paramref name="maxLength"/> characters, all
    /// printable ASCII (no control character that would rewrite a terminal or a log line).
    /// </summary>
    public static bool IsPrintable(string text, int maxLength) =>
        text.Length <= maxLength && text.All(c => c is >= ' ' and <= '~');
}
