using Microsoft.Extensions.Logging;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// Keeps the database file and its <c>-wal</c> and <c>-shm</c> files private (mode 0600), as the store creates them,
/// also when a restore or a copy brought them back open to group or others.
/// </summary>
internal static class DatabaseFileModes
{
    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private static readonly string[] Suffixes = ["", "-wal", "-shm"];

    /// <summary>
    /// Sets each of the database's files that group or others may use to mode 0600, with a warning naming the file
    /// and the mode it had; a file this process may not change (another user's) is named in a warning saying how to
    /// fix it. SQLite writes its <c>-wal</c> and <c>-shm</c> files beside the file a symbolic link leads to.
    /// </summary>
    /// <param name="databasePath">The database file, as configured.</param>
    /// <param name="logger">Where the warnings go.</param>
    public static void MakePrivate(string databasePath, ILogger logger)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var target = File.ResolveLinkTarget(databasePath, returnFinalTarget: true)?.FullName ?? databasePath;
        foreach (var suffix in Suffixes)
        {
            var path = target + suffix;
            if (!File.Exists(path) || OwnerOnlyFile.OpenModeOrNull(path) is not { } mode)
            {
                continue;
            }

            var octal = Convert.ToString((int)mode, 8).PadLeft(4, '0');
            try
            {
                File.SetUnixFileMode(path, Private);
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
}
