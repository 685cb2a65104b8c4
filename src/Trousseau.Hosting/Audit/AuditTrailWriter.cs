using System.Buffers;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Audit;

/// <summary>
/// The audit trail as a file of JSON lines (or standard output), one writer for the whole process: each record is
/// appended under a lock and handed to the operating system (an unbuffered write) before <see cref="Append"/> returns,
/// the records of calls that came while another call's were written going out together in one write; it is not
/// synced to disk one by one, only when the file is rotated and when the host stops. Each line carries the
/// hash of the line before it, across restarts (the chain goes on from the file's last line) and rotations (the file
/// is renamed <c>PATH.1</c>, older ones shift up to <c>PATH.N</c>, and the new file's first line names the old file's
/// last). A file that cannot be opened is tried again at the next call; a failed write makes the trail unavailable
/// until a write succeeds again. Processes may share the trail (two daemons on one data directory): each line is
/// written holding an exclusive advisory lock on <c>PATH.lock</c>, after catching up with what other processes wrote
/// (the chain goes on from the file's last line) or reopening the file when another process rotated it (the lock
/// file's first 8 bytes count rotations).
/// </summary>
internal sealed partial class AuditTrailWriter : IAuditTrail, IHostedService, IDisposable
{
    private const UnixFileMode OwnerReadWrite = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    private readonly Lock _lock = new();
    private readonly Lock _queueLock = new();
    private readonly ArrayBufferWriter<byte> _line = new(512);
    private readonly ArrayBufferWriter<byte> _lines = new(4096);
    private readonly TrousseauAuditOptions _options;
    private readonly string? _path;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    private readonly AuditTrailLock? _trailLock;
    private long _rotations;
    private FileStream? _file;
    private long _length;
    private string? _previous;
    private bool _writeFailed;
    private bool _failing;
    private long _missed;

    // Records waiting for the lock (under _queueLock), and an empty list to swap in when they are taken (under _lock).
    private List<QueuedRecord> _queue = [];
    private List<QueuedRecord> _spare = [];

    // Whether the next record can be expected to be written, read without the lock by CanRecord's fast path.
    private volatile bool _ready;

    public AuditTrailWriter(IOptions<TrousseauAuditOptions> options, ILoggerFactory loggers, TimeProvider time)
    {
        _options = options.Value;
        _path = _options.Path == TrousseauAuditOptions.StandardOutput ? null : System.IO.Path.GetFullPath(_options.Path!);
        _logger = loggers.CreateLogger<AuditTrailWriter>();
        _time = time;
        if (_path is null)
        {
            (_previous, _ready) = (AuditChain.Genesis, true);
        }
        else
        {
            _trailLock = new AuditTrailLock(_path);
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
            if (_writeFailed || _path is null || _file is not null)
            {
                return !_writeFailed;
            }

            try
            {
                EnterTrail();
                ExitTrail();
                return true;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                Failed(e, writing: false, missed: 0);
                return false;
            }
        }
    }

    public void Append(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var queued = new QueuedRecord(record);
        lock (_queueLock)
        {
            _queue.Add(queued);
        }

        lock (_lock)
        {
            if (!queued.Done)
            {
                WriteQueue();
            }
        }

        if (queued.Failure is { } failure)
        {
            throw new AuditUnavailableException("The audit trail cannot be written, and calls it cannot record are refused; the server's log says why.", failure);
        }
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
    /// trail's current one and the chain follow its last line: opens the file when it is not open or another process
    /// rotated it, and reads its last line again when another process appended to it.
    /// </summary>
    private void EnterTrail()
    {
        _trailLock!.Enter();
        try
        {
            var rotations = _trailLock.ReadRotations();
            if (_file is null || rotations != _rotations)
            {
                Close(truncateTo: null);
                Open();
                _rotations = rotations;
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

    /// <summary>Opens the file, creating it (0600) when absent, and follows its last line.</summary>
    private void Open()
    {
        var path = _path!;
        var file = new FileStream(path, OwnerOnly(FileShare.ReadWrite));
        try
        {
            if (!file.CanSeek)
            {
                throw new IOException($"The audit trail {path} is not a regular file; give a file's path, or - for standard output.");
            }

            FollowTail(file);
            _file = file;
            _ready = !_writeFailed;
        }
        catch
        {
            file.Dispose();
            throw;
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

    /// <summary>
    /// Writes every queued record, in the order queued, the records of the calls that queued theirs while the lock
    /// was held going out in one write (one per file, when the trail is rotated on the way). A record not written is
    /// marked failed, unless the trail fails open and the cause is the trail's.
    /// </summary>
    private void WriteQueue()
    {
        List<QueuedRecord> batch;
        lock (_queueLock)
        {
            (batch, _queue) = (_queue, _spare);
        }

        var writing = false;
        try
        {
            if (_path is null)
            {
                writing = true;
                WriteToStandardOutput(batch);
            }
            else
            {
                EnterTrail();
                try
                {
                    writing = true;
                    WriteToFile(batch);
                }
                finally
                {
                    ExitTrail();
                }
            }

            Recovered();
        }
        catch (Exception e)
        {
            var trailFailed = e is IOException or UnauthorizedAccessException;
            var missed = batch.Count(queued => !queued.Done);
            if (trailFailed)
            {
                Failed(e, writing, missed);
            }

            foreach (var queued in batch.Where(queued => !queued.Done))
            {
                (queued.Done, queued.Failure) = (true, trailFailed && _options.FailOpen ? null : e);
            }

            if (!trailFailed)
            {
                throw;
            }
        }
        finally
        {
            batch.Clear();
            _spare = batch;
        }
    }

    /// <summary>Opening a file for reading and writing, unbuffered, creating it with mode 0600 when absent.</summary>
    internal static FileStreamOptions OwnerOnly(FileShare share)
    {
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = share, BufferSize = 0 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerReadWrite;
        }

        return options;
    }

    /// <summary>Writes the records' lines to the file, rotating it before a line would take it past its maximum size.</summary>
    private void WriteToFile(List<QueuedRecord> batch)
    {
        var previous = _previous!;
        var first = 0;
        _lines.ResetWrittenCount();
        for (var next = 0; next < batch.Count; next++)
        {
            _line.ResetWrittenCount();
            AuditLine.Format(_line, batch[next].Record, _time.GetUtcNow(), previous);
            var line = _line.WrittenSpan;
            var length = _length + _lines.WrittenCount;
            if (length > 0 && length + line.Length > _options.MaxFileBytes)
            {
                WriteLines(batch, first, next, previous);
                first = next;
                Rotate();
            }

            _lines.Write(line);
            previous = AuditChain.Hash(line[..^1]);
        }

        WriteLines(batch, first, batch.Count, previous);
    }

    /// <summary>Writes the lines in <see cref="_lines"/>, those of the records from <paramref name="first"/> to before <paramref name="end"/>, the last one's hash being <paramref name="previous"/>.</summary>
    private void WriteLines(List<QueuedRecord> batch, int first, int end, string previous)
    {
        if (first == end)
        {
            return;
        }

        var file = _file!;
        try
        {
            file.Position = _length;
            file.Write(_lines.WrittenSpan);
        }
        catch
        {
            Close(truncateTo: _length);
            throw;
        }

        _length += _lines.WrittenCount;
        _previous = previous;
        _lines.ResetWrittenCount();
        for (var written = first; written < end; written++)
        {
            batch[written].Done = true;
        }
    }

    private void WriteToStandardOutput(List<QueuedRecord> batch)
    {
        var previous = _previous!;
        _lines.ResetWrittenCount();
        foreach (var queued in batch)
        {
            var start = _lines.WrittenCount;
            AuditLine.Format(_lines, queued.Record, _time.GetUtcNow(), previous);
            previous = AuditChain.Hash(_lines.WrittenSpan[start..^1]);
        }

        // Through Console.Out, whose lock keeps the lines whole beside the console log; the lines are ASCII.
        Console.Out.Write(System.Text.Encoding.ASCII.GetString(_lines.WrittenSpan));
        Console.Out.Flush();
        _previous = previous;
        foreach (var queued in batch)
        {
            queued.Done = true;
        }
    }

    /// <summary>Syncs and closes the full file, shifts the rotated ones up (deleting the oldest) and opens a new file.</summary>
    private void Rotate()
    {
        var file = _file!;
        _file = null;
        try
        {
            file.Flush(flushToDisk: true);
        }
        finally
        {
            file.Dispose();
        }

        File.Delete(Rotated(_options.MaxFiles));
        for (var generation = _options.MaxFiles - 1; generation >= 1; generation--)
        {
            if (File.Exists(Rotated(generation)))
            {
                File.Move(Rotated(generation), Rotated(generation + 1), overwrite: true);
            }
        }

        var previousFile = Rotated(1);
        File.Move(_path!, previousFile, overwrite: true);
        _rotations++;
        _trailLock!.WriteRotations(_rotations);
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
    /// Notes a failure, logged once per burst. A file that could not be opened is tried again before the next call; a
    /// failed write (or rotation) keeps the trail unavailable until a write succeeds.
    /// </summary>
    private void Failed(Exception exception, bool writing, int missed)
    {
        _writeFailed |= writing;
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

    /// <summary>A record waiting to be written, and what came of it (set under the writer's lock).</summary>
    private sealed class QueuedRecord(AuditRecord record)
    {
        public AuditRecord Record { get; } = record;

        /// <summary>Whether the record was handed to the operating system, or given up on (<see cref="Failure"/>).</summary>
        public bool Done { get; set; }

        /// <summary>Why the record was not written, when its call must fail.</summary>
        public Exception? Failure { get; set; }
    }

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
}
