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
    /// stores reaching one file by different paths take one lock.
    /// </summary>
    public static OwnerLock Acquire(string databasePath)
    {
        var target = File.ResolveLinkTarget(databasePath, returnFinalTarget: true)?.FullName ?? databasePath;
        var path = target + ".lock";
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        try
        {
            return new OwnerLock(new FileStream(path, options));
        }
        catch (IOException ex)
        {
            throw new DependencyUnavailableException(
                "store:sqlite", $"The SQLite store '{databasePath}' is in use by another process or store instance (lock file {path}).", ex);
        }
    }

    public void Dispose() => _file.Dispose();
}
