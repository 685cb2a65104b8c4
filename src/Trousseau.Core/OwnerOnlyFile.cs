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

    /// <summary>Creates <paramref name="path"/>'s directory (mode 0700) when it does not exist.</summary>
    /// <param name="path">A file path.</param>
    public static void EnsureParentDirectory(string path)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(path));
        if (string.IsNullOrEmpty(directory) || Directory.Exists(directory))
        {
            return;
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, DirectoryMode0700);
        }
    }

    /// <summary>
    /// Writes <paramref name="contents"/> to <paramref name="path"/> with mode 0600, all or nothing: a temporary file
    /// is written, flushed to disk, then renamed over the target.
    /// </summary>
    /// <param name="path">The file to write.</param>
    /// <param name="contents">The whole contents.</param>
    /// <param name="overwrite">Whether to replace an existing file.</param>
    /// <returns><see langword="false"/> when <paramref name="overwrite"/> is false and the file already exists.</returns>
    public static bool WriteAtomically(string path, ReadOnlySpan<byte> contents, bool overwrite)
    {
        EnsureParentDirectory(path);
        var temporary = $"{path}.{Guid.NewGuid():N}.tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
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

            if (overwrite)
            {
                File.Move(temporary, path, overwrite: true);
                return true;
            }

            try
            {
                File.Move(temporary, path, overwrite: false);
                return true;
            }
            catch (IOException) when (File.Exists(path))
            {
                return false;
            }
        }
        finally
        {
            File.Delete(temporary);
        }
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
}
