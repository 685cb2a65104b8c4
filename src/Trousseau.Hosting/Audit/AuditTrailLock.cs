using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trousseau.Hosting.Audit;

/// <summary>
/// The exclusive advisory lock that processes sharing an audit trail write each line under: <c>flock(2)</c> on
/// <c>PATH.lock</c>, the lock that .NET takes on Unix for <see cref="FileShare.None"/>, whose first 8 bytes count the
/// trail's rotations. On Linux the file stays open between lines and is locked and unlocked with <c>flock</c> itself;
/// after each lock it is checked to still be linked, so that a lock file deleted meanwhile is replaced by the one at
/// its path, which other processes lock. Elsewhere it is opened for each line and closed after it.
/// </summary>
internal sealed class AuditTrailLock(string trail) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    // Whether flock and statx can be called: Linux, with a libc that has statx (glibc 2.28, musl 1.2.5).
    private static bool s_keepsOpen = OperatingSystem.IsLinux();

    private readonly string _path = trail + ".lock";
    private readonly byte[] _status = new byte[Libc.StatxBytes];
    private FileStream? _file;

    // The file's handle, taken once: FileStream.SafeFileHandle seeks the file each time it is read.
    private SafeFileHandle? _handle;
    private bool _held;

    /// <summary>Takes the lock, waiting up to 5 s for another process that holds it; creates the file (0600) and its directory when absent.</summary>
    public void Enter()
    {
        // Real time, not the injected clock: the holder is another process, which no test clock moves.
        var waiting = Stopwatch.StartNew();
        while (!TryEnter())
        {
            if (waiting.Elapsed >= Patience)
            {
                throw new IOException($"The audit trail {trail} has been locked by another process for {Patience.TotalSeconds:0} s (lock file {_path}).");
            }

            // Another process is writing a line: a few microseconds.
            Thread.Sleep(1);
        }

        _held = true;
    }

    /// <summary>Releases the lock.</summary>
    public void Exit()
    {
        if (!_held)
        {
            return;
        }

        _held = false;
        if (!s_keepsOpen || Libc.Flock(_handle!, Libc.Unlock) != 0)
        {
            Close();
        }
    }

    /// <summary>How many times the trail was rotated, from the lock file's first 8 bytes (0 when it has none). The lock must be held.</summary>
    public long ReadRotations()
    {
        Span<byte> count = stackalloc byte[sizeof(long)];
        return RandomAccess.Read(_handle!, count, 0) == count.Length ? BitConverter.ToInt64(count) : 0;
    }

    /// <summary>Stores the rotation count. The lock must be held.</summary>
    public void WriteRotations(long rotations) =>
        RandomAccess.Write(_handle!, BitConverter.GetBytes(rotations), 0);

    public void Dispose()
    {
        _held = false;
        Close();
    }

    private bool TryEnter()
    {
        if (_file is null)
        {
            OwnerOnlyFile.EnsureParentDirectory(_path);
            try
            {
                _file = new FileStream(_path, AuditTrailWriter.OwnerOnly(FileShare.None));
                _handle = _file.SafeFileHandle;
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException)
            {
                return false;
            }
        }

        return !s_keepsOpen || TryLockKept();
    }

    /// <summary>flock on the open file (held already when it was just opened), then whether it is still the file at its path.</summary>
    private bool TryLockKept()
    {
        var handle = _handle!;
        if (Libc.Flock(handle, Libc.ExclusiveNonBlocking) != 0)
        {
            var error = Marshal.GetLastPInvokeError();
            if (error is Libc.WouldBlock or Libc.Interrupted)
            {
                return false;
            }

            Close();
            throw new IOException($"The audit trail's lock file {_path} cannot be locked: {Marshal.GetPInvokeErrorMessage(error)}.");
        }

        var links = LinkCount(handle);
        if (links is null)
        {
            // No statx in this libc: open the file for each line instead, and let that open's lock stand.
            s_keepsOpen = false;
            return true;
        }

        if (links > 0)
        {
            return true;
        }

        Close();
        return TryEnter();
    }

    /// <summary>The file's link count, or <see langword="null"/> where statx is missing (an older libc) or refused (a container's seccomp profile).</summary>
    private uint? LinkCount(SafeFileHandle handle)
    {
        try
        {
            if (Libc.Statx(handle, Libc.EmptyPath, Libc.AtEmptyPath, Libc.StatxNlink, _status) != 0)
            {
                var error = Marshal.GetLastPInvokeError();
                return error is Libc.NotImplemented or Libc.NotPermitted ? null
                    : throw new IOException($"The audit trail's lock file {_path} cannot be examined: {Marshal.GetPInvokeErrorMessage(error)}.");
            }
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }

        return BitConverter.ToUInt32(_status, Libc.StatxNlinkOffset);
    }

    private void Close()
    {
        _file?.Dispose();
        (_file, _handle) = (null, null);
    }

    private static class Libc
    {
        public const int ExclusiveNonBlocking = 2 | 4; // LOCK_EX | LOCK_NB
        public const int Unlock = 8; // LOCK_UN
        public const int NotPermitted = 1; // EPERM
        public const int Interrupted = 4; // EINTR
        public const int WouldBlock = 11; // EWOULDBLOCK
        public const int NotImplemented = 38; // ENOSYS
        public const int AtEmptyPath = 0x1000;
        public const uint StatxNlink = 0x4;

        // struct statx, the same on every Linux architecture: stx_nlink is the u32 after u32 mask, u32 blksize, u64 attributes.
        public const int StatxBytes = 256;
        public const int StatxNlinkOffset = 16;

        public static readonly byte[] EmptyPath = [0];

        [DllImport("libc", EntryPoint = "flock", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Flock(SafeFileHandle handle, int operation);

        [DllImport("libc", EntryPoint = "statx", SetLastError = true)]
        [DefaultDllImportSearchPaths(DllImportSearchPath.SafeDirectories)]
        public static extern int Statx(SafeFileHandle directory, byte[] path, int flags, uint mask, [Out] byte[] status);
    }
}
