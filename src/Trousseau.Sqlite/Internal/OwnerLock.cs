namespace Trousseau.Sqlite.Internal;

/// <summary>
/// An exclusive advisory lock on <c>&lt;database&gt;.lock</c>, held while a store has the database open, so that
/// a second process (or store instance) on the same file fails fast instead of reading stale cached records.
/// The operating system releases it when the process ends, even on a crash.
/// </summary>
internal sealed class OwnerLock : IDisposable
{
    private readonly FileStream _file;

    private OwnerLock(FileStream file) => _file = file;

    /// <summary>
    /// Takes the lock beside the file <paramref name="databasePath"/> leads to, following symbolic links, so that two
    /// stores reaching one file by different paths take one lock; in a directory that group or others may write, the
    /// lock is taken beside <paramref name="databasePath"/> itself, whose link there is refused later
    /// (<see cref="SharedDirectoryFile"/>), and a link at the lock file's path is refused, not followed. A lock file this
    /// process may read but not write (its mode, a read-only mount) is locked through a read-only handle, so that the
    /// database is still read.
    /// </summary>
    public static OwnerLock Acquire(string databasePath)
    {
        var path = DatabaseFileModes.FileOpened(databasePath) + ".lock";
        try
        {
            return Open(path, FileMode.OpenOrCreate, FileAccess.ReadWrite);
        }
        catch (RefusedFileException ex)
        {
            throw new DependencyUnavailableException("store:sqlite", $"The SQLite store '{databasePath}' cannot be opened: {ex.Message}", ex);
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException && File.Exists(path))
        {
            try
            {
                return Open(path, FileMode.Open, FileAccess.Read);
            }
            catch (IOException inUse)
            {
                throw InUse(databasePath, path, inUse);
            }
        }
        catch (Exception ex) when (ex is UnauthorizedAccessException or IOException)
        {
            throw CannotCreate(databasePath, path, ex);
        }
    }

    /// <summary>
    /// Throws when another process or store instance holds the lock of <paramref name="databasePath"/>, naming that
    /// process when the system says which; takes no lock and creates nothing (a lock file not yet made means the file is
    /// free). Whatever else goes wrong here is left to the store's first use to report.
    /// </summary>
    public static void ThrowIfHeld(string databasePath)
    {
        var path = DatabaseFileModes.FileOpened(databasePath) + ".lock";
        if (!File.Exists(path))
        {
            return;
        }

        FileStream probe;
        try
        {
            probe = SharedDirectoryFile.Open(path, FileMode.Open, FileAccess.Read, FileShare.None);
        }
        catch (IOException inUse) when (inUse.HResult == SharedDirectoryFile.LockedElsewhere && inUse is not RefusedFileException)
        {
            throw InUse(databasePath, path, inUse);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return;
        }

        probe.Dispose();
    }

    public void Dispose() => _file.Dispose();

    private static DependencyUnavailableException InUse(string databasePath, string path, IOException inner) => new(
        "store:sqlite",
        $"The SQLite store '{databasePath}' is in use by another process or store instance (lock file {path})"
            + (LockHolder.Describe(path) is { } holder ? $": {holder} holds it." : ".")
            + " Stop that one, or give this one its own Sqlite:Path (or data directory).",
        inner);

    private static OwnerLock Open(string path, FileMode mode, FileAccess access) =>
        new(SharedDirectoryFile.Open(path, mode, access, FileShare.None));

    private static DependencyUnavailableException CannotCreate(string databasePath, string path, Exception ex) => new(
        "store:sqlite",
        $"The SQLite store '{databasePath}' cannot be opened: its lock file {path} cannot be created ({ex.Message}). This process needs to write the directory {Path.GetDirectoryName(path)}.",
        ex);
}
