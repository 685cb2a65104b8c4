using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Trousseau.Kms.Internal;

/// <summary>
/// A listening Unix socket that nobody but its owner can connect to, from the first instant it appears at its path:
/// it is bound in a fresh directory of mode 0700 beside that path, made 0600 there, and only then given the path's name
/// too (a hard link on one file system), so the socket keeps listening: it is bound to its inode, not its name.
/// The directory it is moved into must be one that nobody else may change: neither writable by group or others nor
/// owned by a user other than root or the one this process runs as, since whoever may change it could replace the
/// socket with one of their own, to which kube-apiserver would hand its keys.
/// </summary>
internal static class OwnerOnlyUnixSocket
{
    private const UnixFileMode OwnerOnlyDirectory = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode OwnerOnlySocket = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode WritableByOthers = UnixFileMode.GroupWrite | UnixFileMode.OtherWrite;

    // A dead socket taken away, then the path found taken again by a dead socket, more times than any start racing
    // plugins that crash at once would see.
    private const int MaxPlacementAttempts = 3;

    /// <summary>
    /// Listens on <paramref name="path"/>: creates its directory (0700) when missing, refuses a directory that group or
    /// others may write or that another user owns, replaces a socket file left by a process that is gone, and refuses
    /// one that a live process serves.
    /// </summary>
    /// <param name="path">The socket's full path.</param>
    /// <returns>The listening socket, which the caller owns.</returns>
    /// <exception cref="IOException">The path or its directory cannot be used, with a message that says why.</exception>
    public static Socket Listen(string path)
    {
        var directory = Path.GetDirectoryName(path)!;
        if (Directory.Exists(directory))
        {
            RefuseIfOthersMayChange(directory);
        }
        else
        {
            OwnerOnlyFile.EnsureParentDirectory(path);
        }

        if (OperatingSystem.IsWindows())
        {
            if (IsLeftBehind(path))
            {
                File.Delete(path);
            }

            return ListenInPlace(path);
        }

        return ListenPrivatelyThenMove(path);
    }

    /// <summary>
    /// Refuses, changing nothing, what <see cref="Listen"/> would refuse before it binds: a directory that group or
    /// others may write or that another user owns, a path that is not a socket or that a live process serves, a path
    /// too long to be bound.
    /// </summary>
    /// <param name="path">The socket's full path.</param>
    /// <exception cref="IOException">The path or its directory cannot be used, with a message that says why.</exception>
    public static void Check(string path)
    {
        var directory = Path.GetDirectoryName(path)!;
        if (Directory.Exists(directory))
        {
            RefuseIfOthersMayChange(directory);
        }

        _ = IsLeftBehind(path);
        _ = EndPoint(OperatingSystem.IsWindows() ? path : Path.Combine(StagingDirectory(path), "s"), path);
    }

    private static void RefuseIfOthersMayChange(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var mode = File.GetUnixFileMode(directory);
        if ((mode & WritableByOthers) != 0)
        {
            var octal = Convert.ToString((int)mode, 8).PadLeft(4, '0');
            throw new IOException(
                $"The KMS socket directory {directory} is writable by group or others (mode {octal}), who could replace the socket; "
                + $"remove that access (chmod go-w {directory}) or put the socket in another directory.");
        }

        // The owner of a directory may always rename what is in it, or give itself write access to it.
        if (LinuxFileStatus.StrangerOwning(directory) is { } owner)
        {
            var self = LinuxFileStatus.EffectiveUserId();
            throw new IOException(
                $"The KMS socket directory {directory} belongs to user id {owner}, neither root nor the user this process runs as (uid {self}), who could replace the socket; "
                + $"give it to root or that user (chown {self} {directory}) or put the socket in another directory.");
        }
    }

    /// <summary>
    /// Whether <paramref name="path"/> is a socket file that no process serves any more, left by one that is gone;
    /// refuses a path that is no socket (a symbolic link too, whatever it points to), one a live process serves, or
    /// one this process may not connect to.
    /// </summary>
    private static bool IsLeftBehind(string path)
    {
        if (new FileInfo(path).LinkTarget is { } target)
        {
            throw new IOException($"The KMS socket path {path} is a symbolic link (to {target}), not a socket; refusing to follow or replace it.");
        }

        if (Directory.Exists(path))
        {
            throw new IOException($"The KMS socket path {path} is a directory, not a socket; refusing to replace it.");
        }

        if (!File.Exists(path))
        {
            return false;
        }

        // .NET does not tell a socket from an empty file; a file with content is surely not a socket.
        if (new FileInfo(path).Length != 0)
        {
            throw new IOException($"The KMS socket path {path} is a file with content, not a socket; refusing to replace it.");
        }

        // Only a refused connection shows that nothing serves the socket: one this process may not connect to (another
        // user's, mode 0600) may be live, and replacing it would take kube-apiserver's calls from the plugin serving it.
        // Probed without blocking: a live plugin whose backlog is full (busy, or hung) would hold a blocking connect,
        // and the start with it, until it accepts again; such a plugin is live too (EAGAIN).
        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { Blocking = false };
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            return true;
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock)
        {
            throw new IOException(
                $"The KMS socket {path} is in use by another process, which accepts no connection for now (its backlog of connections waiting to be accepted is full).", e);
        }
        catch (SocketException) when (!File.Exists(path))
        {
            return false;
        }
        catch (SocketException e)
        {
            throw new IOException(
                $"The KMS socket path {path} is a socket this process may not connect to ({e.Message}): a process of another user may serve it; "
                + "refusing to replace it. Stop that process, or remove the socket if nothing serves it.");
        }

        throw InUse(path);
    }

    /// <summary>Windows has no file modes: the socket is bound where it belongs, under the directory's ACL.</summary>
    private static Socket ListenInPlace(string path)
    {
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(EndPoint(path, path));
            listener.Listen();
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static Socket ListenPrivatelyThenMove(string path)
    {
        var staging = StagingDirectory(path);
        var staged = Path.Combine(staging, "s");
        Directory.CreateDirectory(staging, OwnerOnlyDirectory);
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            listener.Bind(EndPoint(staged, path));
            listener.Listen();
            File.SetUnixFileMode(staged, OwnerOnlySocket);
            PutInPlace(staged, path, Path.Combine(staging, "old"));
            return listener;
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        finally
        {
            Directory.Delete(staging, recursive: true);
        }
    }

    /// <summary>
    /// Gives the listening socket <paramref name="staged"/> the name <paramref name="path"/>, replacing only a socket
    /// left by a process that is gone. Another plugin may start on the same path at the same moment, find the same dead
    /// socket and put its own live one there first, so nothing here tests and then acts on what the path holds: the
    /// name is given by link(2), which fails when the path exists (a rename would replace whatever is there), and a dead
    /// socket is taken away by a rename into <paramref name="taken"/>, which moves whatever the path holds at that
    /// instant; when that is no longer the socket found dead, it is put back and the path is in use.
    /// </summary>
    [UnsupportedOSPlatform("windows")]
    private static void PutInPlace(string staged, string path, string taken)
    {
        var stagedName = Libc.PathOf(staged);
        var pathName = Libc.PathOf(path);
        for (var attempt = 0; attempt < MaxPlacementAttempts; attempt++)
        {
            if (Libc.Link(stagedName, pathName) == 0)
            {
                return;
            }

            var error = Marshal.GetLastPInvokeError();
            if (error is Libc.NotPermitted or Libc.NotSupported)
            {
                // A file system without hard links: a rename where nothing is, as close as it allows.
                MoveUnlessTaken(staged, path);
                return;
            }

            if (error != Libc.AlreadyExists)
            {
                throw new IOException($"The KMS socket {path} cannot be made: {Marshal.GetPInvokeErrorMessage(error)}.");
            }

            var found = IdentityOf(pathName);
            if (!IsLeftBehind(path))
            {
                continue;
            }

            try
            {
                File.Move(path, taken, overwrite: true);
            }
            catch (FileNotFoundException)
            {
                continue;
            }

            if (found is not { } dead || IdentityOf(Libc.PathOf(taken)) is not { } moved || moved == dead)
            {
                File.Delete(taken);
                continue;
            }

            // Another plugin's socket, put there since this one was found dead: back where it was, untouched.
            _ = Libc.Link(Libc.PathOf(taken), pathName);
            throw InUse(path);
        }

        throw InUse(path);
    }

    private static void MoveUnlessTaken(string staged, string path)
    {
        if (IsLeftBehind(path))
        {
            File.Delete(path);
        }

        try
        {
            File.Move(staged, path, overwrite: false);
        }
        catch (IOException e) when (File.Exists(path))
        {
            throw InUse(path, e);
        }
    }

    private static FileIdentity? IdentityOf(byte[] path) => LinuxFileStatus.OfPath(path) is { } version && version != default ? version.File : null;

    // Short names, since a Unix socket address holds little more than 100 bytes.
    private static string StagingDirectory(string path) => Path.Combine(Path.GetDirectoryName(path)!, ".kms-" + Path.GetRandomFileName()[..6]);

    private static UnixDomainSocketEndPoint EndPoint(string bound, string path)
    {
        try
        {
            // The final path is checked too: kube-apiserver must be able to connect to it.
            _ = new UnixDomainSocketEndPoint(path);
            return new UnixDomainSocketEndPoint(bound);
        }
        catch (ArgumentOutOfRangeException e)
        {
            throw new IOException($"The KMS socket path {path} is too long for a Unix socket address; choose a shorter path.", e);
        }
    }

    private static IOException InUse(string path, Exception? inner = null) =>
        new($"The KMS socket {path} is in use by another process.", inner);
}
