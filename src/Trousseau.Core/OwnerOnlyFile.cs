using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trousseau;

/// <summary>
/// Files and directories that only their owner may use (modes 0600 and 0700): key rings, token files, databases.
/// On Windows the modes are not applied.
/// </summary>
public static class OwnerOnlyFile
{
    private const UnixFileMode FileMode0600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode DirectoryMode0700 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode GroupOrOther =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private const string TemporarySuffix = ".tmp";
    private const int TemporaryIdLength = 32;

    /// <summary>
    /// Creates <paramref name="path"/>'s directory, and each missing directory above it, with mode 0700 when it does not
    /// exist (as the XDG base directory spec asks of a configuration directory), and flushes the directories
    /// that received a new entry, so that the new directories survive a power loss.
    /// </summary>
    /// <param name="path">A file path.</param>
    /// <exception cref="IOException">A directory cannot be created; when a file stands where one goes, the message names both.</exception>
    public static void EnsureParentDirectory(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (string.IsNullOrEmpty(directory) || Directory.Exists(directory))
        {
            return;
        }

        var created = new Stack<string>();
        for (var missing = directory; !string.IsNullOrEmpty(missing) && !Directory.Exists(missing); missing = Path.GetDirectoryName(missing))
        {
            if (File.Exists(missing))
            {
                // .NET would say "The file '…' already exists.", as if the directory were the file.
                throw new IOException($"{directory} cannot be created, as {missing} is a file, not a directory.");
            }

            created.Push(missing);
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
            return;
        }

        // One at a time, outermost first: Directory.CreateDirectory gives its mode to the last directory only, and the
        // missing ones above it 0777 less the umask (0777 itself under umask 0).
        foreach (var newDirectory in created)
        {
            Directory.CreateDirectory(newDirectory, DirectoryMode0700);
            FlushDirectory(Path.GetDirectoryName(newDirectory)!);
        }
    }

    /// <summary>
    /// Writes <paramref name="contents"/> to <paramref name="path"/> with mode 0600, all or nothing, durably: a
    /// temporary file beside it (<c>NAME.&lt;32 hex&gt;.tmp</c>) is written and flushed to disk, renamed over the
    /// target (without <paramref name="overwrite"/>, given its name by link(2), which fails where a file is), and the
    /// directory is flushed so that the new name survives a power loss. On failure the temporary file is deleted; only
    /// a killed process leaves one (see <see cref="FindTemporaries"/>).
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="contents">The whole contents.</param>
    /// <param name="overwrite">Whether to replace an existing file.</param>
    /// <returns><see langword="false"/> when <paramref name="overwrite"/> is false and the file already exists.</returns>
    public static bool WriteAtomically(string path, ReadOnlySpan<byte> contents, bool overwrite)
    {
        path = Path.GetFullPath(path);
        EnsureParentDirectory(path);
        var temporary = $"{path}.{Guid.NewGuid():N}{TemporarySuffix}";
        // Unbuffered: a stream's buffer would keep a copy of what it wrote (a key ring's keys) that nothing zeroes.
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = FileMode0600;
        }

        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                stream.Write(contents);
                stream.Flush(flushToDisk: true);
            }

            if (!PutInPlace(temporary, path, overwrite))
            {
                return false;
            }

            if (!OperatingSystem.IsWindows())
            {
                FlushDirectory(Path.GetDirectoryName(path)!);
            }

            return true;
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>
    /// Gives <paramref name="temporary"/>'s file the name <paramref name="path"/>. Without <paramref name="overwrite"/>,
    /// another process may create <paramref name="path"/> at the same moment, so nothing here tests and then acts on
    /// it (a rename would replace a file put there since the test): the name is given by link(2), which fails when
    /// <paramref name="path"/> exists; only a file system without hard links gets a rename where nothing is.
    /// </summary>
    /// <returns><see langword="false"/> when <paramref name="overwrite"/> is false and the file already exists.</returns>
    private static bool PutInPlace(string temporary, string path, bool overwrite)
    {
        if (!overwrite && !OperatingSystem.IsWindows())
        {
            if (Libc.Link(Libc.PathOf(temporary), Libc.PathOf(path)) == 0)
            {
                return true;
            }

            // EEXIST; or the temporary file deleted by another process that created the file (ENOENT).
            var error = Marshal.GetLastPInvokeError();
            if (error == Libc.AlreadyExists || File.Exists(path))
            {
                return false;
            }

            if (error is not (Libc.NotPermitted or Libc.NotSupported))
            {
                throw new IOException($"The file '{path}' cannot be created: {Marshal.GetPInvokeErrorMessage(error)}.");
            }
        }

        try
        {
            File.Move(temporary, path, overwrite);
            return true;
        }
        catch (IOException) when (!overwrite && File.Exists(path))
        {
            return false;
        }
    }

    /// <summary>
    /// The temporary files that <see cref="WriteAtomically"/> left beside <paramref name="path"/> because its process
    /// was killed mid-write. They may hold what the file holds (key material, tokens): delete them, but only while no
    /// other process can be writing <paramref name="path"/>, since a live write's temporary file looks the same.
    /// </summary>
    /// <param name="path">The file that was being written.</param>
    /// <returns>The full paths of the temporary files, none when the directory does not exist.</returns>
    public static IReadOnlyList<string> FindTemporaries(string path)
    {
        path = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(path);
        var prefix = Path.GetFileName(path) + ".";
        if (string.IsNullOrEmpty(directory) || !Directory.Exists(directory))
        {
            return [];
        }

        return [.. Directory.EnumerateFiles(directory, prefix + "*" + TemporarySuffix).Where(candidate =>
        {
            var name = Path.GetFileName(candidate);
            return name.Length == prefix.Length + TemporaryIdLength + TemporarySuffix.Length
                && name.StartsWith(prefix, StringComparison.Ordinal)
                && name.EndsWith(TemporarySuffix, StringComparison.Ordinal)
                && name[prefix.Length..^TemporarySuffix.Length].All(char.IsAsciiHexDigitLower);
        })];
    }

    /// <summary>
    /// Deletes the temporary files <see cref="FindTemporaries"/> finds beside <paramref name="path"/>, under the same
    /// condition: call it only while no other process can be writing <paramref name="path"/>. A file that cannot be
    /// deleted (another user's, in a shared directory) is left as it is: it never took effect.
    /// </summary>
    /// <param name="path">The file that was being written.</param>
    /// <returns>How many temporary files were deleted.</returns>
    public static int DeleteTemporaries(string path)
    {
        var deleted = 0;
        foreach (var leftover in FindTemporaries(path))
        {
            try
            {
                File.Delete(leftover);
                deleted++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Left for its owner: it holds nothing in use.
            }
        }

        return deleted;
    }

    /// <summary>Creates an empty file with mode 0600 (and its directory with 0700) unless it exists.</summary>
    /// <param name="path">The file to create.</param>
    public static void EnsureExists(string path)
    {
        if (!File.Exists(path))
        {
            WriteAtomically(path, [], overwrite: false);
        }
    }

    /// <summary>The file's mode when group or others have any access to it, else <see langword="null"/>.</summary>
    /// <param name="path">An existing file.</param>
    /// <returns>The too-open mode, or <see langword="null"/> when the file is private (or on Windows).</returns>
    public static UnixFileMode? OpenModeOrNull(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        var mode = File.GetUnixFileMode(path);
        return (mode & GroupOrOther) != 0 ? mode : null;
    }

    /// <summary>The open file's mode when group or others have any access to it, else <see langword="null"/>.</summary>
    /// <param name="file">An open file: what is at its path may have changed since it was opened.</param>
    /// <returns>The too-open mode, or <see langword="null"/> when the file is private (or on Windows).</returns>
    public static UnixFileMode? OpenModeOrNull(SafeFileHandle file)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        var mode = File.GetUnixFileMode(file);
        return (mode & GroupOrOther) != 0 ? mode : null;
    }

    /// <summary>
    /// Flushes <paramref name="path"/>'s directory to disk, so that the files created, renamed or deleted in it (the
    /// renames of a rotation) survive a power loss in the order they were made, as <see cref="WriteAtomically"/> does
    /// after its rename. Nothing on Windows.
    /// </summary>
    /// <param name="path">A file path.</param>
    /// <exception cref="IOException">The directory cannot be opened or flushed.</exception>
    public static void FlushParentDirectory(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            FlushDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        }
    }

    /// <summary>
    /// fsync(2) of a directory, which makes the entries created, renamed or removed in it durable. .NET opens no
    /// directory as a file, so this asks libc. A file system that cannot flush directories (EINVAL) has nothing to do.
    /// </summary>
    private static void FlushDirectory(string directory)
    {
        using var handle = Libc.Open(Libc.PathOf(directory), Libc.ReadOnly | Libc.CloseOnExec, 0);
        if (handle.IsInvalid)
        {
            throw FlushFailed(directory, Marshal.GetLastPInvokeError());
        }

        if (Libc.Fsync(handle) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            if (error != Libc.InvalidArgument)
            {
                throw FlushFailed(directory, error);
            }
        }
    }

    private static IOException FlushFailed(string directory, int error) =>
        new($"The directory '{directory}' cannot be flushed to disk: {Marshal.GetPInvokeErrorMessage(error)}.");
}
