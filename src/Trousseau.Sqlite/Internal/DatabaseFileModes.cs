using System.Runtime.Versioning;
using Microsoft.Extensions.Logging;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// Keeps the database file and its <c>-wal</c> and <c>-shm</c> files private (mode 0600), as the store creates them,
/// also when a restore or a copy brought them back open to group or others; and, in a directory that group or others
/// may write, refuses one of them that another user may have put there before SQLite opens it.
/// </summary>
internal static class DatabaseFileModes
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static readonly string[] Suffixes = ["", "-wal", "-shm"];

    /// <summary>
    /// Opens each of the database's files there is (<see cref="SharedDirectoryFile"/>: in a directory that group or
    /// others may write, one that is a symbolic link, another user's or not a regular file is refused, naming it) and
    /// sets one that group or others may use to mode 0600 through the open file, not its path, with a warning naming
    /// the file and the mode it had; a file this process may not change (another user's) is named in a warning saying
    /// how to fix it. SQLite writes its <c>-wal</c> and <c>-shm</c> files beside the file a symbolic link leads to, in a
    /// directory only its owner may write (elsewhere the link is refused).
    /// </summary>
    /// <param name="databasePath">The database file, as configured.</param>
    /// <param name="logger">Where the warnings go.</param>
    /// <exception cref="IOException">One of the files is refused, or cannot be opened.</exception>
    public static void MakePrivate(string databasePath, ILogger logger)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var target = FileOpened(databasePath);
        foreach (var suffix in Suffixes)
        {
            var path = target + suffix;
            FileStream file;
            try
            {
                file = SharedDirectoryFile.Open(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            }
            catch (Exception ex) when (ex is FileNotFoundException or UnauthorizedAccessException)
            {
                // Nothing there yet (SQLite creates it 0600, as the database is), or a file this process may not open,
                // which SQLite, that cannot open it either, reports.
                continue;
            }

            using (file)
            {
                MakePrivate(file, path, logger);
            }
        }
    }

    /// <summary>
    /// The file SQLite opens for <paramref name="databasePath"/>, beside which it keeps its <c>-wal</c> and <c>-shm</c>
    /// files: where a symbolic link leads, in a directory only its owner may write; the path itself in a directory that
    /// group or others may write, where a link is refused, not followed (and where none is yet).
    /// </summary>
    /// <param name="databasePath">The database file, as configured.</param>
    public static string FileOpened(string databasePath) =>
        SharedDirectoryFile.IsShared(databasePath) || !File.Exists(databasePath)
            ? databasePath
            : File.ResolveLinkTarget(databasePath, returnFinalTarget: true)?.FullName ?? databasePath;

    [UnsupportedOSPlatform("windows")]
    private static void MakePrivate(FileStream file, string path, ILogger logger)
    {
        if (OwnerOnlyFile.OpenModeOrNull(file.SafeFileHandle) is not { } mode)
        {
            return;
        }

        var octal = Convert.ToString((int)mode, 8).PadLeft(4, '0');
        try
        {
            File.SetUnixFileMode(file.SafeFileHandle, Private);
            Log.FileModeTightened(logger, path, octal);
        }
        catch (UnauthorizedAccessException)
        {
            // Refusing the file would not close what its mode opens: it is used as its owner lets this process (a file it
            // cannot write is reported read-only), and the warning says how to fix it.
            Log.FileModeOpen(logger, path, octal);
        }
    }
}
