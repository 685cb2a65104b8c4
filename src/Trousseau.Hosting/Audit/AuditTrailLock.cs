using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Trousseau.Hosting.Audit;

/// <summary>
/// The exclusive advisory lock that processes sharing an audit trail write each line under: <c>flock(2)</c> on
/// <c>PATH.lock</c>, the lock that .NET takes on Unix for <see cref="FileShare.None"/>, whose first 8 bytes count the
/// trail's rotations. On Linux the file stays open between lines and is locked and unlocked with <c>flock</c> itself;
/// after each lock it is checked (statx) to still be linked, so that a lock file deleted meanwhile is replaced by the
/// one at its path, which other processes lock. Elsewhere, and where statx cannot be called, it is opened for each
/// line and closed after it.
/// </summary>
internal sealed class AuditTrailLock(string trail) : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(5);

    private readonly string _path = trail + ".lock";
    private readonly LinuxFileStatus _status = new();
    private FileStream? _file;

    // The file's handle, taken once: FileStream.SafeFileHandle seeks the file each time it is read.
    private SafeFileHandle? _handle;
    private bool _held;

    /// <summary>
    /// Takes the lock, waiting up to 5 s for another process that holds it; creates the file (0600) and its directory when
    /// absent. A file at its path that is not a regular one (a FIFO) is refused at once, naming what it is, and so, in a
    /// directory that group or others may write, are a symbolic link and another user's file.
    /// </summary>
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
        if (!LinuxFileStatus.IsAvailable || Libc.Flock(_handle!, Libc.Unlock) != 0)
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
                _file = SharedDirectoryFile.Open(_path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                _handle = _file.SafeFileHandle;
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException and not RefusedFileException)
            {
                return false;
            }
        }

        return !LinuxFileStatus.IsAvailable || TryLockKept();
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

        uint? links;
        try
        {
            links = _status.LinkCount(handle);
        }
        catch
        {
            Close();
            throw;
        }

        // Without statx (an older libc, a seccomp profile refusing it) the file is opened for each line from now on.
        if (links is not 0)
        {
            return true;
        }

        Close();
        return TryEnter();
    }

    private void Close()
    {
        _file?.Dispose();
        (_file, _handle) = (null, null);
    }
}
