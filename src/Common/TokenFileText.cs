using System.Runtime.InteropServices;
using System.Text;

namespace Trousseau;

// Linked into Trousseau.Hosting and trousseaud, which read api.token, and clectl and Trousseau.Client
// (AddTrousseauClient), which read token files: one bound for all, and, for the two clients, one way to open the file
// (with Libc.cs and LinuxFileStatus.cs).

/// <summary>
/// The text of an API token file, read by trousseaud (<c>api.token</c>), clectl (<c>--token-file</c>, contexts) and the
/// remote client (<c>TokenFile</c>): at most <see cref="MaxBytes"/>, since a larger file (one pointed at a log or an
/// image by mistake) holds no token and is not read whole. Counted as read, not from the file's size, which a file
/// still being written outgrows. The clients open the file with <see cref="Open"/> and refuse what
/// <see cref="NotRegular"/> names (a FIFO would have them wait for a writer, a device such as /dev/zero be read without
/// end); what is checked is the file opened, not the path before the open, which another process may point at a FIFO
/// in between.
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

    /// <summary>
    /// The token file at <paramref name="fullPath"/> opened for reading, on Linux with <c>O_NONBLOCK</c>: a FIFO is
    /// opened without waiting for a writer.
    /// </summary>
    /// <exception cref="IOException">The file cannot be opened; the message names it and why.</exception>
    public static FileStream Open(string fullPath)
    {
        if (!OperatingSystem.IsLinux())
        {
            return new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);
        }

        var handle = Libc.Open(Libc.PathOf(fullPath), Libc.ReadOnly | Libc.NonBlocking | Libc.CloseOnExec, 0);
        if (handle.IsInvalid)
        {
            var error = Marshal.GetLastPInvokeError();
            handle.Dispose();
            throw new IOException($"The token file {fullPath} cannot be opened: {Marshal.GetPInvokeErrorMessage(error)}.");
        }

        return new FileStream(handle, FileAccess.Read, bufferSize: 0);
    }

    /// <summary>
    /// What the opened <paramref name="file"/> is unless it is a regular file ("a FIFO", "a character device"...), from
    /// the descriptor (statx); where statx cannot be called (a seccomp profile refusing it), a file that cannot seek is no
    /// regular file either. <see langword="null"/> for a regular file, and elsewhere than on Linux.
    /// </summary>
    public static string? NotRegular(FileStream file) =>
        !OperatingSystem.IsLinux() ? null
        : new LinuxFileStatus().OwnerAndKind(file.SafeFileHandle) is { } status ? status.NotRegular
        : file.CanSeek ? null
        : "a FIFO, a socket or a terminal";
}
