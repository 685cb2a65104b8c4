using System.Text;

namespace Trousseau;

// Linked into Trousseau.Hosting and trousseaud, which read api.token, and clectl and Trousseau.Client
// (AddTrousseauClient), which read token files: one bound for all.

/// <summary>
/// The text of an API token file, read by trousseaud (<c>api.token</c>) and clectl (<c>--token-file</c>, contexts): at
/// most <see cref="MaxBytes"/>, since a larger file (one pointed at a log or an image by mistake) holds no token and is
/// not read whole. Counted as read, not from the file's size, which a file still being written outgrows.
/// </summary>
internal static class TokenFileText
{
    /// <summary>The largest token file read: a token trousseaud makes is 43 characters.</summary>
    public const int MaxBytes = 4096;

    /// <summary>The file's text without a UTF-8 byte order mark, trimmed; <see langword="null"/> when it is larger than <see cref="MaxBytes"/>.</summary>
    public static string? Read(Stream file)
    {
        var buffer = new byte[MaxBytes + 1];
        var length = 0;
        int read;
        while (length < buffer.Length && (read = file.Read(buffer, length, buffer.Length - length)) > 0)
        {
            length += read;
        }

        if (length > MaxBytes)
        {
            return null;
        }

        var text = buffer.AsSpan(0, length);
        return Encoding.UTF8.GetString(text.StartsWith(Encoding.UTF8.Preamble) ? text[Encoding.UTF8.Preamble.Length..] : text).Trim();
    }
}
