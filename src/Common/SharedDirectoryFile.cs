using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using Microsoft.Win32.SafeHandles;

namespace Trousseau;

// Linked into Trousseau.Hosting (the audit trail, its lock file and its rotated files), Trousseau.Core (the local key
// ring and its lock file), Trousseau.Sqlite (the database, its -wal, -shm and lock files) and clectl (the files audit
// verify reads), with Libc.cs.

/// <summary>
/// Opens a file in a directory that group or others may write (a Kubernetes emptyDir, a shared directory), where another
/// user may put, at any time, a symbolic link where the file goes, to have it written, created or read where the link
/// leads, or a file of their own. There, on Linux, the file is opened with <c>O_NOFOLLOW</c>, so that a link is refused
/// instead of followed, and refused when it belongs to neither root nor the user this process runs as, or is not a
/// regular file. One kind of link is followed there, for a file opened to be read: in a directory with the sticky bit,
/// where no other user can remove or replace a link of root's or this user's, a link of theirs that leads, through
/// links and directories of theirs only, to a file within the same directory, as kubelet lays out a Secret, ConfigMap
/// or projected volume (mode 1777, <c>token -&gt; ..data/token</c>, <c>..data -&gt; ..2026_11_27_10_00_00.1</c>); a
/// link that leads out of it is refused. In a directory that only its owner may write, links are followed (the
/// directory's owner put them there), and on Linux a file that is not a regular one is refused too, so that a FIFO does
/// not block the open. Elsewhere than on Linux, the file is opened as <see cref="FileStream"/> opens it.
/// </summary>
internal static class SharedDirectoryFile
{
    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const int MostLinksFollowed = 40; // as Linux, which gives ELOOP past 40

    /// <summary>
    /// The <see cref="Exception.HResult"/> of the <see cref="IOException"/> <see cref="Open"/> throws when another process
    /// holds the file's lock: ERROR_SHARING_VIOLATION, the one <see cref="FileStream"/> gives then.
    /// </summary>
    public const int LockedElsewhere = unchecked((int)0x80070020);

    private static readonly TimeSpan LockRetryDelay = TimeSpan.FromMilliseconds(10);

    /// <summary>
    /// Opens <paramref name="lockPath"/> as <see cref="Open"/> does with <see cref="FileShare.None"/>, holding its lock,
    /// trying again every 10 ms while it throws an exception <paramref name="held"/> takes for the lock being held
    /// elsewhere, for <paramref name="patience"/> at most (real time: the holder is another process, which no test
    /// clock moves); then throws what <paramref name="stillHeld"/> makes of the last exception.
    /// </summary>
    public static FileStream OpenLock(string lockPath, TimeSpan patience, Func<IOException, bool> held, Func<IOException, Exception> stillHeld)
    {
        var waiting = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return Open(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException e) when (held(e))
            {
                if (waiting.Elapsed >= patience)
                {
                    throw stillHeld(e);
                }

                Thread.Sleep(LockRetryDelay);
            }
        }
    }

    /// <summary>
    /// Opens <paramref name="path"/> unbuffered, creating it with mode 0600 when <paramref name="mode"/> is
    /// <see cref="FileMode.OpenOrCreate"/>; with <see cref="FileShare.None"/>, holding an exclusive advisory lock on it
    /// (<c>flock</c>), as <see cref="FileStream"/> does on Unix.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="mode"><see cref="FileMode.Open"/> or <see cref="FileMode.OpenOrCreate"/>.</param>
    /// <param name="access">The access wanted.</param>
    /// <param name="share"><see cref="FileShare.None"/> for an exclusive lock, else what other openers may do.</param>
    /// <exception cref="RefusedFileException">The file is not a regular file, or is a symbolic link or another user's in a directory group or others may write.</exception>
    /// <exception cref="IOException">The file cannot be opened, or another process holds its lock.</exception>
    /// <exception cref="UnauthorizedAccessException">This process may not open the file.</exception>
    public static FileStream Open(string path, FileMode mode, FileAccess access, FileShare share)
    {
        if (mode is not (FileMode.Open or FileMode.OpenOrCreate))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Only Open and OpenOrCreate are supported.");
        }

        path = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(path)!;
        if (!OperatingSystem.IsLinux() || !Directory.Exists(directory))
        {
            var options = new FileStreamOptions { Mode = mode, Access = access, Share = share, BufferSize = 0 };
            if (mode == FileMode.OpenOrCreate && !OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = OwnerReadWrite;
            }

            return new FileStream(path, options);
        }

        var directoryMode = File.GetUnixFileMode(directory);
        if ((directoryMode & WritableByOthers) == 0)
        {
            return OpenPrivate(path, mode, access, share);
        }

        var where = $"in the directory {directory}, which group or others may write (mode {Octal(directoryMode)})";
        var fix = $"Remove it (rm {path}) and remove that access (chmod go-w {directory}).";
        var handle = OpenShared(path, directory, mode, access, where, fix);
        try
        {
            if (new LinuxFileStatus().OwnerAndKind(handle) is { } status)
            {
                if (status.Owner != 0 && status.Owner != LinuxFileStatus.EffectiveUserId())
                {
                    throw new RefusedFileException(
                        $"{path} belongs to user id {status.Owner}, neither root nor the user this process runs as (uid {LinuxFileStatus.EffectiveUserId()}), {where}: "
                        + $"another user may have put it there, and it is not used. {fix}");
                }

                if (status.NotRegular is { } kind)
                {
                    throw new RefusedFileException($"{path} is not a regular file but {kind}, {where}: another user may have put it there, and it is not used. {fix}");
                }
            }

            Lock(handle, path, share);
            return new FileStream(handle, access, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// open(2) of <paramref name="path"/>, in <paramref name="directory"/> that group or others may write, without
    /// following a link, unless it is one kubelet's volumes are made of (see the class's summary): then the file it leads
    /// to is opened, without following a link either. A link that changed between the look and the open (kubelet
    /// swapping <c>..data</c> and removing the directory it led to) is looked at once more.
    /// </summary>
    [SupportedOSPlatform("linux")]
    private static SafeFileHandle OpenShared(string path, string directory, FileMode mode, FileAccess access, string where, string fix)
    {
        if (mode != FileMode.Open || access != FileAccess.Read || (File.GetUnixFileMode(directory) & UnixFileMode.StickyBit) == 0)
        {
            return OpenFlags(path, mode, access, Libc.NoFollow, where, fix);
        }

        for (var look = 1; ; look++)
        {
            var target = new FileInfo(path).LinkTarget is null ? path : WithinLinks(directory, Path.GetFileName(path)) ?? path;
            try
            {
                return OpenFlags(target, mode, access, Libc.NoFollow, where, fix);
            }
            catch (FileNotFoundException) when (target != path && look == 1)
            {
                // The link led into a directory removed since: look again.
            }
        }
    }

    /// <summary>
    /// Where <paramref name="name"/> in the sticky <paramref name="directory"/> leads, as kubelet's volumes are made:
    /// every link on the way belonging to root or this process's user, every directory on the way theirs and, when
    /// group or others may write it, sticky; <see langword="null"/> when the way leaves <paramref name="directory"/>,
    /// passes anything else, or holds more than 40 links. Where the way reaches nothing, the path reached, which the open
    /// then finds missing.
    /// </summary>
    [SupportedOSPlatform("linux")]
    private static string? WithinLinks(string directory, string name)
    {
        var user = LinuxFileStatus.EffectiveUserId();
        var reached = directory;
        var ahead = new List<string> { name };
        var links = 0;
        while (ahead.Count > 0)
        {
            var part = ahead[0];
            ahead.RemoveAt(0);
            if (part is "" or ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (reached == directory)
                {
                    return null;
                }

                reached = Path.GetDirectoryName(reached)!;
                continue;
            }

            var next = Path.Combine(reached, part);
            var link = new FileInfo(next).LinkTarget;
            if (link is null)
            {
                if (!Path.Exists(next))
                {
                    // Missing (kubelet removed the directory a link led to): opening it says so.
                    return next;
                }

                if (ahead.Count > 0 && !IsOwnDirectory(next, user))
                {
                    return null;
                }

                reached = next;
                continue;
            }

            if (++links > MostLinksFollowed || LinuxFileStatus.LinkOwnerOf(next) is not { } owner || (owner != 0 && owner != user))
            {
                return null;
            }

            if (Path.IsPathRooted(link))
            {
                if (!link.StartsWith(directory + "/", StringComparison.Ordinal))
                {
                    return null;
                }

                reached = directory;
                link = link[(directory.Length + 1)..];
            }

            ahead.InsertRange(0, link.Split('/'));
        }

        return reached == directory ? null : reached;
    }

    /// <summary>Whether <paramref name="path"/> is a directory of root or <paramref name="user"/> that no one else may change: not writable by group or others, or sticky.</summary>
    [SupportedOSPlatform("linux")]
    private static bool IsOwnDirectory(string path, uint user)
    {
        if (!Directory.Exists(path) || LinuxFileStatus.LinkOwnerOf(path) is not { } owner || (owner != 0 && owner != user))
        {
            return false;
        }

        var mode = File.GetUnixFileMode(path);
        return (mode & WritableByOthers) == 0 || (mode & UnixFileMode.StickyBit) != 0;
    }

    /// <summary>
    /// Whether <paramref name="path"/> is in a directory that group or others may write, on Linux: where <see cref="Open"/>
    /// refuses a symbolic link, so that a caller does not follow one there before opening (to find where a file leads).
    /// </summary>
    /// <param name="path">A file's path.</param>
    public static bool IsShared(string path) =>
        OperatingSystem.IsLinux()
        && Path.GetDirectoryName(Path.GetFullPath(path)) is { } directory
        && Directory.Exists(directory)
        && (File.GetUnixFileMode(directory) & WritableByOthers) != 0;

    /// <summary>
    /// Opens a file in a directory that only its owner may write, on Linux: links followed, as the owner put them there,
    /// but a file that is not a regular one (a FIFO, a socket, a device) refused, naming it, as in a shared directory:
    /// opening a FIFO would wait for a writer, for ever, and the audit trail's lock with it.
    /// </summary>
    private static FileStream OpenPrivate(string path, FileMode mode, FileAccess access, FileShare share)
    {
        var handle = OpenFlags(path, mode, access, follow: 0, where: null, fix: null);
        try
        {
            if (new LinuxFileStatus().OwnerAndKind(handle) is { NotRegular: { } kind })
            {
                throw new RefusedFileException($"{path} is not a regular file but {kind}, and it is not used. Remove it (rm {path}).");
            }

            Lock(handle, path, share);
            return new FileStream(handle, access, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>With <see cref="FileShare.None"/>, takes an exclusive advisory lock (<c>flock</c>) on the file, as <see cref="FileStream"/> does on Unix.</summary>
    private static void Lock(SafeFileHandle handle, string path, FileShare share)
    {
        if (share == FileShare.None && Libc.Flock(handle, Libc.ExclusiveNonBlocking) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            // Held elsewhere: the HRESULT FileStream gives then (ERROR_SHARING_VIOLATION), so callers tell it apart.
            throw error == Libc.WouldBlock
                ? new IOException($"{path} is locked by another process.", LockedElsewhere)
                : new IOException($"{path} cannot be locked: {Marshal.GetPInvokeErrorMessage(error)}.");
        }
    }

    /// <summary>
    /// open(2) with <c>O_NONBLOCK</c> (no wait for a writer when a FIFO is at <paramref name="path"/>) and the
    /// <paramref name="follow"/> flags: with <c>O_NOFOLLOW</c>, a symbolic link at <paramref name="path"/> is refused,
    /// not followed, naming <paramref name="where"/> it is and the <paramref name="fix"/>.
    /// </summary>
    private static SafeFileHandle OpenFlags(string path, FileMode mode, FileAccess access, int follow, string? where, string? fix)
    {
        var flags = follow | Libc.CloseOnExec | Libc.NonBlocking
            | (mode == FileMode.OpenOrCreate ? Libc.Create : 0)
            | access switch { FileAccess.Read => Libc.ReadOnly, FileAccess.Write => Libc.WriteOnly, _ => Libc.ReadWrite };
        var handle = Libc.Open(Libc.PathOf(path), flags, (int)OwnerReadWrite);
        if (!handle.IsInvalid)
        {
            return handle;
        }

        var error = Marshal.GetLastPInvokeError();
        handle.Dispose();
        var message = $"{path} cannot be opened: {Marshal.GetPInvokeErrorMessage(error)}.";
        throw error switch
        {
            Libc.TooManyLinks when follow != 0 => new RefusedFileException(
                $"{path} is a symbolic link (to {new FileInfo(path).LinkTarget}) {where}: another user may have put it there to have this process use the file it leads to, "
                + $"and it is not followed. {fix}"),
            Libc.IsDirectory => new RefusedFileException($"{path} is not a regular file but a directory, and it is not used. Remove it (rmdir {path})."),
            Libc.NoSuchFile => new FileNotFoundException(message, path),
            Libc.PermissionDenied or Libc.NotPermitted => new UnauthorizedAccessException(message),
            _ => new IOException(message),
        };
    }

    private static string Octal(UnixFileMode mode) => Convert.ToString((int)mode, 8).PadLeft(4, '0');
}

/// <summary>
/// A file refused for what it is, not because it is busy or cannot be opened: a symbolic link or another user's file
/// in a directory that group or others may write, or a file that is not a regular one. Its message names it, why, and
/// the fix. Trying again does not help until the file is removed.
/// </summary>
internal sealed class RefusedFileException(string message) : IOException(message);
