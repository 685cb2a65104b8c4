namespace Trousseau;

// Linked into Trousseau.Core and Trousseau.Hosting: how an error message or an audit line repeats a value the caller
// sent, which may be megabytes long.

/// <summary>Text as a message repeats it: whole while short, otherwise its start followed by <c>…</c>.</summary>
internal static class Excerpt
{
    /// <summary><paramref name="text"/> itself, or its first <paramref name="maxLength"/> characters followed by <c>…</c>.</summary>
    public static string Of(string text, int maxLength) =>
        text.Length <= maxLength ? text : string.Concat(text.AsSpan(0, maxLength), "…");
}
