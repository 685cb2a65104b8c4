using Microsoft.Win32.SafeHandles;

namespace Trousseau.Hosting.Audit;

/// <summary>The end of an audit file: where its last complete line ends, and that line, read backwards from the end.</summary>
internal static class AuditFileTail
{
    private const int ChunkBytes = 4096;

    /// <summary>
    /// The length of the file's complete lines (what follows the last line feed is a write cut short), and the last
    /// complete line without its line feed, or <see langword="null"/> when there is none.
    /// </summary>
    /// <param name="file">The open file.</param>
    /// <param name="length">The file's length.</param>
    public static (long CompleteLength, byte[]? LastLine) Read(SafeFileHandle file, long length)
    {
        var lastEnd = LastLineFeedBefore(file, length);
        if (lastEnd < 0)
        {
            return (0, null);
        }

        var start = LastLineFeedBefore(file, lastEnd) + 1;
        var line = new byte[lastEnd - start];
        ReadExactly(file, line, start);
        return (lastEnd + 1, line);
    }

    /// <summary>
    /// The last complete line of the file at <paramref name="path"/>, or <see langword="null"/> when it has none. In a
    /// directory that group or others may write, a symbolic link or another user's file at its path is refused.
    /// </summary>
    public static byte[]? LastLine(string path)
    {
        using var file = SharedDirectoryFile.Open(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return Read(file.SafeFileHandle, RandomAccess.GetLength(file.SafeFileHandle)).LastLine;
    }

    private static long LastLineFeedBefore(SafeFileHandle file, long end)
    {
        var buffer = new byte[ChunkBytes];
        while (end > 0)
        {
            var start = Math.Max(0, end - ChunkBytes);
            var chunk = buffer.AsSpan(0, (int)(end - start));
            ReadExactly(file, chunk, start);
            var index = chunk.LastIndexOf((byte)'\n');
            if (index >= 0)
            {
                return start + index;
            }

            end = start;
        }

        return -1;
    }

    private static void ReadExactly(SafeFileHandle file, Span<byte> buffer, long offset)
    {
        while (buffer.Length > 0)
        {
            var read = RandomAccess.Read(file, buffer, offset);
            if (read == 0)
            {
                throw new IOException("The audit file became shorter while it was read.");
            }

            buffer = buffer[read..];
            offset += read;
        }
    }
}
