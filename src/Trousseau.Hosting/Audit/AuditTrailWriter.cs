using System.Buffers;
using System.Globalization;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Audit;

/// <summary>
/// The audit trail as a file of JSON lines (or standard output), one writer for the whole process. Each record is
/// handed to the operating system (an unbuffered write) before <see cref="AppendAsync"/> completes; it is not synced to
/// disk one by one, only when the file is rotated and when the host stops. Records that arrive while a write is under
/// way wait for it and are then written together, with one write and one lock, so that concurrent calls share the cost
/// of a write instead of queueing for it one by one. Each line carries the hash of the line before it, across restarts
/// (the chain goes on from the file's last line) and rotations (the file is renamed <c>PATH.1</c>, older ones shift up
/// to <c>PATH.N</c>, and the new file's first line names the old file's last). A file that cannot be opened, a rotation
/// that failed and a write refused for want of access are tried again before the next call (and when readiness is
/// asked), writing no line; another failed write (a full disk) makes the trail unavailable until a write succeeds again. Processes may share
/// the trail (two daemons on one data directory): lines are written holding an exclusive advisory lock on
/// <c>PATH.lock</c>, after catching up with what other processes wrote (the chain goes on from the file's last line) or
/// reopening the file when another process rotated it: the lock file's first 8 bytes count rotations, and on Linux the
/// statx that reads the trail's size before each write reads it at <c>PATH</c>, with its device and inode, so that a
/// file renamed away from <c>PATH</c> (a rotation another process could not count, a crash between its rename and its
/// count, a file moved or deleted by hand) is not written on but left for the one at <c>PATH</c>. On standard output
/// (<see cref="StandardOutputLines"/>) a pipe nobody reads any more, and one not read for 5 s, is a failed write.
/// </summary>
internal sealed partial class AuditTrailWriter : IAuditTrail, IHostedService, IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    // _lock guards the file and the chain; _queueLock the lines waiting to be written, which one caller at a time
    // writes together (see AppendAsync).
    private readonly Lock _lock = new();
    private readonly Lock _queueLock = new();
    private readonly ArrayBufferWriter<byte> _buffer = new(16 * 1024);
    private readonly ArrayBufferWriter<byte> _line = new(512);
    private readonly TrousseauAuditOptions _options;
    private readonly string? _path;

    // _path in UTF-8 with a terminating zero byte, for statx.
    private readonly byte[]? _pathBytes;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    private readonly AuditTrailLock? _trailLock;
    private readonly StandardOutputLines? _standardOutput;
    private readonly LinuxFileStatus _status = new();
    private long _rotations;
    private FileStream? _file;

    // Which file _file is (device and inode), where statx can tell.
    private FileIdentity? _identity;
    private long _length;
    private string? _previous;
    // A write of lines failed other than for want of access: only a write shows that the trail can be written again.
    private bool _writeFailed;

    // A rotation failed (its file is closed): tried again before the next call.
    private bool _rotationFailed;
    private bool _failing;
    private long _missed;

    // Whether the next record can be expected to be written, read without the lock by CanRecord's fast path.
    private volatile bool _ready;

    private List<PendingLine> _waiting = [];
    private bool _writing;

    public AuditTrailWriter(IOptions<TrousseauAuditOptions> options, ILoggerFactory loggers, TimeProvider time)
    {
        _options = options.Value;
        _path = _options.Path == TrousseauAuditOptions.StandardOutput ? null : System.IO.Path.GetFullPath(_options.Path!);
        _logger = loggers.CreateLogger<AuditTrailWriter>();
        _time = time;
        if (_path is null)
        {
            (_previous, _ready, _standardOutput) = (AuditChain.Genesis, true, new StandardOutputLines());
        }
        else
        {
            _trailLock = new AuditTrailLock(_path);
            _pathBytes = Libc.PathOf(_path);
        }
    }

    private string Trail => _path ?? "standard output";

    public bool CanRecord()
    {
        if (_ready || _options.FailOpen)
        {
            return true;
        }

        lock (_lock)
        {
            if (_writeFailed || _path is null || (_file is not null && !_rotationFailed))
            {
                return !_writeFailed;
            }

            // What failed is tried again, writing no line: opening the file, and a rotation that failed.
            try
            {
                var rotations = _rotations;
                EnterTrail();
                try
                {
                    if (_rotationFailed && _rotations == rotations && _length > 0)
                    {
                        Rotate();
                    }

                    // Otherwise another process rotated the trail meanwhile, or this one did but could not count it:
                    // the file is a new one, and rotating it again would leave an empty rotated file, whose last line
                    // the next file's first line could not name.
                    _rotationFailed = false;
                }
                finally
                {
                    ExitTrail();
                }

                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Failed(e, writing: false, missed: 0);
                return false;
            }
        }
    }

    public ValueTask AppendAsync(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var line = new PendingLine(record);
        lock (_queueLock)
        {
            _waiting.Add(line);
            if (_writing)
            {
                return new ValueTask(line.Wait());
            }

            _writing = true;
        }

        // No write under way: this caller writes what is waiting, its own line among it, and hands what comes
        // meanwhile to the thread pool, so that its own answer waits for one write only.
        WriteWaiting();
        if (!StopWritingIfNoneWaiting())
        {
            ThreadPool.UnsafeQueueUserWorkItem(static writer => writer.WriteUntilNoneWaiting(), this, preferLocal: false);
        }

        return line.Failure is { } failure ? ValueTask.FromException(failure) : ValueTask.CompletedTask;
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            if (_path is null)
            {
                LogTrail(_logger, Trail, _options.FailOpen);
                return Task.CompletedTask;
            }

            try
            {
                EnterTrail();
                ExitTrail();
                LogTrail(_logger, Trail, _options.FailOpen);
            }
            catch (Exception e) when ((e is IOException or UnauthorizedAccessException) && _options.FailOpen)
            {
                // Calls go on unrecorded, as the settings ask: one line says why, without the exception's stack trace.
                (_ready, _failing) = (false, true);
                LogCannotOpenGoingOn(_logger, _path, WritableLocation.WhyFileCannotBeWritten(_path) ?? $"which cannot be opened: {e.Message}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Failed(e, writing: false, missed: 0);
            }
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_file is { } file)
            {
                _file = null;
                _ready = false;
                try
                {
                    file.Flush(flushToDisk: true);
                }
                catch (IOException e)
                {
                    LogNotSynced(_logger, Trail, e);
                }
                finally
                {
                    file.Dispose();
                }
            }

            _trailLock?.Dispose();
        }
    }

    /// <summary>
    /// Takes the trail's lock (waiting up to 5 s for another process that holds it), then makes the open file the
    /// trail's current one and the chain follow its last line: opens the file when it is not open, another process
    /// rotated it, or it is no longer the file at the trail's path, and reads its last line again when another process
    /// appended to it.
    /// </summary>
    private void EnterTrail()
    {
        _trailLock!.Enter();
        try
        {
            var rotations = _trailLock.ReadRotations();
            if (_file is null || rotations != _rotations)
            {
                Reopen(rotations);
            }
            else if (_status.IdentityAndSize(_pathBytes!) is { } atPath)
            {
                // One statx, at the path: which file is there as well as its size, instead of the size of the file held.
                if (atPath.File != _identity)
                {
                    Reopen(rotations);
                }
                else if (atPath.Size != _length)
                {
                    FollowTail(_file);
                }
            }
            else if (_file.Length != _length)
            {
                FollowTail(_file);
            }
        }
        catch
        {
            ExitTrail();
            throw;
        }
    }

    private void ExitTrail() => _trailLock!.Exit();

    private void Reopen(long rotations)
    {
        Close(truncateTo: null);
        Open();
        _rotations = rotations;
    }

    /// <summary>
    /// Opens the file, creating it (0600) when absent, and follows its last line. In a directory that group or others
    /// may write, a symbolic link or another user's file at its path is refused, not followed or used.
    /// </summary>
    private void Open()
    {
        var path = _path!;
        var file = SharedDirectoryFile.Open(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite);
        try
        {
            if (!file.CanSeek)
            {
                throw new IOException($"The audit trail {path} is not a regular file; give a file's path, or - for standard output.");
            }

            MakePrivate(file, path);
            MakeRotatedPrivate();
            FollowTail(file);
            (_file, _identity) = (file, _status.Identity(file.SafeFileHandle));
            _ready = !_writeFailed;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sets an opened trail that group or others may use (restored or copied with mode 0644, say) to mode 0600, with a
    /// warning naming it and the mode it had, as the SQLite store does with its files: it holds no value, but names who
    /// did what to which secret, and others who may write it may cut it. A file this process may not change (another
    /// user's) is named in a warning saying how to fix it.
    /// </summary>
    private void MakePrivate(FileStream file, string path)
    {
        if (OperatingSystem.IsWindows() || OwnerOnlyFile.OpenModeOrNull(file.SafeFileHandle) is not { } mode)
        {
            return;
        }

        var octal = Convert.ToString((int)mode, 8).PadLeft(4, '0');
        try
        {
            File.SetUnixFileMode(file.SafeFileHandle, OwnerReadWrite);
            LogModeTightened(_logger, path, octal);
        }
        catch (UnauthorizedAccessException)
        {
            LogModeOpen(_logger, path, octal);
        }
    }

    /// <summary>
    /// Sets the rotated files (<c>PATH.1</c> … <c>PATH.N</c>) that group or others may use to mode 0600, as
    /// <see cref="MakePrivate"/> does the trail, each with its own warning: a rotated file restored or copied with mode
    /// 0644 stays beside the trail until <c>Audit:MaxFiles</c> rotations later. Done each time the trail is opened, at
    /// start and at each rotation.
    /// </summary>
    private void MakeRotatedPrivate()
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        for (var generation = 1; generation <= _options.MaxFiles; generation++)
        {
            var rotated = Rotated(generation);
            if (File.Exists(rotated) && OwnerOnlyFile.OpenModeOrNull(rotated) is not null)
            {
                using var file = SharedDirectoryFile.Open(rotated, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
                MakePrivate(file, rotated);
            }
        }
    }

    /// <summary>
    /// Drops a last line that a crash or a full disk cut short, and makes the chain go on from the file's last line,
    /// else from the last line of <c>PATH.1</c>, else from the genesis value.
    /// </summary>
    private void FollowTail(FileStream file)
    {
        var length = file.Length;
        var (complete, lastLine) = AuditFileTail.Read(file.SafeFileHandle, length);
        if (complete < length)
        {
            file.SetLength(complete);
            LogIncompleteLineRemoved(_logger, Trail, length - complete);
        }

        _previous = lastLine is not null ? AuditChain.Hash(lastLine)
            : File.Exists(Rotated(1)) && AuditFileTail.LastLine(Rotated(1)) is { } rotatedLast ? AuditChain.Hash(rotatedLast)
            : AuditChain.Genesis;
        _length = complete;
    }

    private void WriteWaiting()
    {
        List<PendingLine> batch;
        lock (_queueLock)
        {
            (batch, _waiting) = (_waiting, []);
        }

        var written = 0;
        Exception? failure = null;
        try
        {
            lock (_lock)
            {
                Write(batch, ref written);
            }
        }
        catch (Exception e)
        {
            failure = e;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Complete(i < written ? null : failure);
        }
    }

    private void WriteUntilNoneWaiting()
    {
        do
        {
            WriteWaiting();
        }
        while (!StopWritingIfNoneWaiting());
    }

    private bool StopWritingIfNoneWaiting()
    {
        lock (_queueLock)
        {
            _writing = _waiting.Count > 0;
            return !_writing;
        }
    }

    /// <summary>
    /// Writes <paramref name="batch"/>, counting the lines written in <paramref name="written"/>;
    /// <see cref="AuditUnavailableException"/> for the others when a write fails, unless the trail is fail-open. The
    /// caller holds <see cref="_lock"/>.
    /// </summary>
    private void Write(List<PendingLine> batch, ref int written)
    {
        var writing = false;
        try
        {
            if (_path is null)
            {
                writing = true;
                _previous = _standardOutput!.TakeLate() ?? _previous;
                WriteLines(batch, ref written);
            }
            else
            {
                EnterTrail();
                try
                {
                    writing = true;
                    WriteLines(batch, ref written);
                }
                finally
                {
                    ExitTrail();
                }
            }

            Recovered();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failed(e, writing, missed: batch.Count - written);
            if (_options.FailOpen)
            {
                written = batch.Count;
                return;
            }

            throw new AuditUnavailableException("The audit trail cannot be written, and calls it cannot record are refused; the server's log says why.", e);
        }
    }

    /// <summary>
    /// Writes the batch's lines with one write per file they go into: the file is rotated first where the next line
    /// would take it past <see cref="TrousseauAuditOptions.MaxFileBytes"/> (never on standard output).
    /// </summary>
    private void WriteLines(List<PendingLine> batch, ref int written)
    {
        _buffer.ResetWrittenCount();
        var previous = _previous!;
        for (var i = 0; i < batch.Count; i++)
        {
            var next = Format(batch[i].Record, previous);
            var buffered = _length + _buffer.WrittenCount;
            if (_path is not null && buffered > 0 && buffered + _line.WrittenCount > _options.MaxFileBytes)
            {
                Flush(previous);
                written = i;
                Rotate();
            }

            _buffer.Write(_line.WrittenSpan);
            previous = next;
        }

        Flush(previous);
        written = batch.Count;
    }

    /// <summary>Writes the buffered lines at the trail's end; <paramref name="previous"/> is the hash of the last of them.</summary>
    private void Flush(string previous)
    {
        if (_buffer.WrittenCount == 0)
        {
            return;
        }

        try
        {
            if (_path is null)
            {
                _standardOutput!.Write(_buffer.WrittenSpan, previous);
            }
            else
            {
                WriteToFile(_buffer.WrittenSpan);
            }

            _previous = previous;
        }
        finally
        {
            _buffer.ResetWrittenCount();
        }
    }

    private void WriteToFile(ReadOnlySpan<byte> lines)
    {
        var file = _file!;
        try
        {
            file.Position = _length;
            file.Write(lines);
            _length += lines.Length;
        }
        catch
        {
            Close(truncateTo: _length);
            throw;
        }
    }

    /// <summary>
    /// Formats a record's line, stamped now, into <see cref="_line"/>. A rotation before the line leaves the hash it
    /// carries right, since the new file's first line names the old file's last.
    /// </summary>
    /// <returns>The line's hash.</returns>
    private string Format(AuditRecord record, string previous)
    {
        _line.ResetWrittenCount();
        return AuditLine.Write(_line, record, _time.GetUtcNow(), previous);
    }

    /// <summary>
    /// Syncs and closes the full file, shifts the rotated ones up (deleting the oldest), syncs the directory so that the
    /// renames survive a power loss, and opens a new file. A rotation cut short (a rename that failed, a crash) is
    /// resumed by the next one, which shifts only what it had not: the files are shifted from the highest number down,
    /// so the first number missing is where it stopped, the files above it having moved already.
    /// </summary>
    private void Rotate()
    {
        var file = _file!;
        (_file, _rotationFailed) = (null, true);
        try
        {
            file.Flush(flushToDisk: true);
        }
        finally
        {
            file.Dispose();
        }

        // The first number missing: the end of the rotated files, or the gap a rotation cut short left; past MaxFiles
        // when every kept file is there, and then the oldest is deleted to make room.
        var free = 1;
        while (free <= _options.MaxFiles && File.Exists(Rotated(free)))
        {
            free++;
        }

        var full = free > _options.MaxFiles;
        foreach (var beyond in RotatedFrom(full ? _options.MaxFiles : _options.MaxFiles + 1))
        {
            File.Delete(beyond);
        }

        for (var generation = (full ? _options.MaxFiles : free) - 1; generation >= 1; generation--)
        {
            File.Move(Rotated(generation), Rotated(generation + 1), overwrite: true);
        }

        var previousFile = Rotated(1);
        File.Move(_path!, previousFile, overwrite: true);

        // The renames made durable before the new file is written: after a power loss, the rotated files hold the chain
        // in order, as they do after a kill. A flush that fails leaves the rotation as a crash after its renames does.
        OwnerOnlyFile.FlushParentDirectory(_path!);
        _rotations++;
        _trailLock!.WriteRotations(_rotations);
        _rotationFailed = false;
        Open();
        LogRotated(_logger, Trail, previousFile);
    }

    /// <summary>Closes the file; after a failed write, first cuts off what part of the line was written, if it can.</summary>
    private void Close(long? truncateTo)
    {
        if (_file is not { } file)
        {
            return;
        }

        _file = null;
        try
        {
            if (truncateTo is { } length)
            {
                file.SetLength(length);
            }
        }
        catch (IOException)
        {
            // The next Open drops a partial line that could not be cut off here.
        }
        finally
        {
            file.Dispose();
        }
    }

    private string Rotated(int generation) => $"{_path}.{generation}";

    /// <summary>
    /// The rotated files numbered <paramref name="first"/> or more, <c>PATH.N</c> with N written without leading zeros:
    /// at a rotation, the one that would move past <c>Audit:MaxFiles</c> and those left by a larger <c>MaxFiles</c>
    /// before a restart, which would otherwise sit before the kept files with a gap between them that
    /// <c>clectl audit verify</c> reports as a break.
    /// </summary>
    private List<string> RotatedFrom(int first)
    {
        var directory = Path.GetDirectoryName(Path.GetFullPath(_path!))!;
        var prefix = Path.GetFileName(_path!) + ".";
        return Directory.EnumerateFiles(directory)
            .Where(file =>
            {
                var name = Path.GetFileName(file.AsSpan());
                if (!name.StartsWith(prefix, StringComparison.Ordinal))
                {
                    return false;
                }

                var suffix = name[prefix.Length..];
                return suffix is [not '0', ..] && !suffix.ContainsAnyExceptInRange('0', '9')
                    && (suffix.Length > 9 || int.Parse(suffix, CultureInfo.InvariantCulture) >= first);
            })
            .ToList();
    }

    /// <summary>
    /// Notes a failure, logged once per burst. A file that could not be opened, a rotation that failed and a write
    /// refused for want of access (an immutable file) are tried again before the next call, writing no line; another
    /// failed write (a full disk) keeps the trail unavailable until a write succeeds.
    /// </summary>
    private void Failed(Exception exception, bool writing, int missed)
    {
        _writeFailed |= writing && !_rotationFailed && exception is not UnauthorizedAccessException;
        _ready = false;
        _missed += missed;
        if (_failing)
        {
            return;
        }

        _failing = true;
        if (_options.FailOpen)
        {
            LogCannotWriteGoingOn(_logger, Trail, exception);
        }
        else
        {
            LogCannotWriteRefusing(_logger, Trail, exception);
        }
    }

    private void Recovered()
    {
        _writeFailed = false;
        _ready = true;
        if (_failing)
        {
            _failing = false;
            LogWritableAgain(_logger, Trail, _missed);
            _missed = 0;
        }
    }

    [LoggerMessage(EventId = 6308, Level = LogLevel.Warning, Message = "The audit trail {Trail} had mode {Mode}, which let group or others use it; it is now 0600")]
    private static partial void LogModeTightened(ILogger logger, string trail, string mode);

    [LoggerMessage(EventId = 6309, Level = LogLevel.Warning, Message = "The audit trail {Trail} has mode {Mode}, which lets group or others use it, and this process may not change it (it does not own the file): give it to the user trousseaud runs as and run 'chmod 600 {Trail}'")]
    private static partial void LogModeOpen(ILogger logger, string trail, string mode);

    [LoggerMessage(EventId = 6300, Level = LogLevel.Information, Message = "Audit trail: {Trail} (fail-open: {FailOpen})")]
    private static partial void LogTrail(ILogger logger, string trail, bool failOpen);

    [LoggerMessage(EventId = 6301, Level = LogLevel.Error, Message = "The audit trail {Trail} cannot be written: the API and the KMS plugin refuse calls until it can (Trousseau:Audit:FailOpen is false)")]
    private static partial void LogCannotWriteRefusing(ILogger logger, string trail, Exception exception);

    [LoggerMessage(EventId = 6302, Level = LogLevel.Error, Message = "The audit trail {Trail} cannot be written: calls go on without their record until it can (Trousseau:Audit:FailOpen is true)")]
    private static partial void LogCannotWriteGoingOn(ILogger logger, string trail, Exception exception);

    [LoggerMessage(EventId = 6303, Level = LogLevel.Information, Message = "The audit trail {Trail} is written again; {Missed} records could not be written meanwhile")]
    private static partial void LogWritableAgain(ILogger logger, string trail, long missed);

    [LoggerMessage(EventId = 6304, Level = LogLevel.Warning, Message = "Removed an incomplete last line ({Bytes} bytes) from the audit trail {Trail}: a write cut short by a crash or a full disk")]
    private static partial void LogIncompleteLineRemoved(ILogger logger, string trail, long bytes);

    [LoggerMessage(EventId = 6305, Level = LogLevel.Information, Message = "Rotated the audit trail {Trail} to {Rotated}")]
    private static partial void LogRotated(ILogger logger, string trail, string rotated);

    [LoggerMessage(EventId = 6306, Level = LogLevel.Warning, Message = "The audit trail {Trail} could not be synced to disk as it was closed")]
    private static partial void LogNotSynced(ILogger logger, string trail, Exception exception);

    [LoggerMessage(EventId = 6307, Level = LogLevel.Warning, Message = "Trousseau:Audit:Path is '{Trail}', {Reason}: calls go on without their record until the audit trail can be written (Trousseau:Audit:FailOpen is true)")]
    private static partial void LogCannotOpenGoingOn(ILogger logger, string trail, string reason);

    /// <summary>A line waiting to be written, and how its caller learns the outcome.</summary>
    private sealed class PendingLine(AuditRecord record)
    {
        private TaskCompletionSource? _waiter;

        public AuditRecord Record { get; } = record;

        /// <summary>Why the line was not written, once it was tried; <see langword="null"/> when it was.</summary>
        public Exception? Failure { get; private set; }

        /// <summary>A task for a caller that waits while another caller writes. Called before the line is taken from the queue.</summary>
        public Task Wait() => (_waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

        public void Complete(Exception? failure)
        {
            Failure = failure;
            if (_waiter is null)
            {
                return;
            }

            if (failure is null)
            {
                _waiter.SetResult();
            }
            else
            {
                _waiter.SetException(failure);
            }
        }
    }
}
