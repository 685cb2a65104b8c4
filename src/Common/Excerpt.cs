namespace Trousseau;

// Linked into Trousseau.Core, Trousseau.Hosting, Trousseau.Kms and Trousseau.Vault: how an error message or an audit
// line repeats a value the caller sent, which may be megabytes long or hold control characters.

/// <summary>Text as a message repeats it: whole while short, otherwise its start followed by <c>…</c>.</summary>
internal static class Excerpt
{
    /// <summary><paramref name="text"/> itself, or its first <paramref name="maxLength"/> characters followed by <c>…</c>.</summary>
    public static string Of(string text, int maxLength) =>
        text.Length <= maxLength ? text : string.Concat(text.AsSpan(0, maxLength), "…");

    /// <summary>
    /// Whether <paramref name="text"/> may be repeated as it is: at most <paramref name="maxLength"/> characters, all
    /// printable ASCII (no control character that would rewrite a terminal or a log line).
    /// </summary>
    public static bool IsPrintable(string text, int maxLength) =>
        text.Length <= maxLength && text.All(c => c is >= ' ' and <= '~');
}
