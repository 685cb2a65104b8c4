using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using SQLitePCL;
using Trousseau.Sqlite.Internal;

namespace Trousseau.Sqlite;

/// <summary>
/// Encrypted secret records in one SQLite file. The database runs in WAL mode with full synchronous commits, so a
/// crash mid-write leaves either the old record or the new one, never a torn one. Revisions come from one counter
/// per database: they grow with every write and are never reused, even after a delete. The file belongs to one
/// store instance at a time (an advisory lock on <c>&lt;path&gt;.lock</c>), which lets reads be answered from an
/// in-memory copy of the encrypted records that every write keeps in step. The file and its <c>-wal</c> and <c>-shm</c>
/// files are private (mode 0600): one found open to group or others when the store opens it (a restore, a copy) is set
/// to 0600 with a warning naming it and its mode (a file of another user's, whose mode this process may not change,
/// gets a warning saying how to fix it). On Linux, a file removed or replaced while the store has it open (a restore
/// made while the process runs) is noticed by its inode, and every call is refused as unavailable until the file is
/// put back, so that no write goes into the old file and is lost; a <c>-wal</c> file removed or replaced while open has
/// what it holds copied into the database, and every call is refused until the store is opened again (a restart). In a
/// directory that group or others may write, a file of the store's that is a symbolic link or another user's is
/// refused when the store first opens the database. On a full disk a write fails as unavailable, saying
/// so and changing nothing, and goes through again once space is freed; the health check reports the store degraded
/// below 16 MiB free.
/// </summary>
public sealed class SqliteSecretStore : ISecretStore, IDisposable
{
    /// <summary>The store's name in configuration (<c>Trousseau:Store=sqlite</c>).</summary>
    public const string StoreName = "sqlite";

    private const string Dependency = "store:sqlite";
    private const int SqliteBusy = 5;
    private const int SqliteReadOnly = 8;
    private const int SqliteFull = 13;
    private const int SqliteCorrupt = 11;
    private const int SqliteConstraint = 19;
    private const int SqliteCannotOpen = 14;

    /// <summary>SQLITE_IOERR_DELETE: a file SQLite had done with (a journal it rolled back) could not be removed.</summary>
    private const int SqliteCannotDelete = 2570;

    /// <summary>
    /// Below this much free space the store reports itself degraded: room for the largest write (a secret of 1 MiB,
    /// encrypted) a few times over, and for SQLite to copy a full write-ahead log (about 4 MiB) back into the database.
    /// </summary>
    private const long MinFreeBytes = 16 * 1024 * 1024;

    private readonly string _path;
    private readonly byte[] _pathBytes;
    private readonly byte[] _directoryBytes;
    private readonly ILogger _logger;
    private readonly string _connectionString;
    private readonly TimeSpan _busyTimeout;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private int _disposed;
    private readonly Lock _initializeLock = new();
    private readonly PointReaderPool _readers;
    private readonly RecordCache _cache = new(maxEntries: 100_000, maxValueBytes: 64 * 1024, maxTotalBytes: 64L * 1024 * 1024);
    private OwnerLock? _ownerLock;
    private FileIdentity? _openedFile;
    private SqliteConnection? _logHolder;
    private byte[] _logPathBytes = [];
    private StrongBox<FileIdentity>? _heldLog;
    private string? _logLost;
    private bool _fileMoved;
    private bool _initialized;
    private bool _revisionCounterChecked;
    private string? _damage;

    /// <summary>Creates the store; the file is opened on first use, and created by the first write or health check (a read of a file not yet created finds nothing).</summary>
    /// <param name="options">Where the file is.</param>
    /// <param name="logger">Where warnings about the file go (a mode made private); none when <see langword="null"/>.</param>
    /// <param name="timeProvider">
    /// The clock that measures how long a write waits behind this store's other writes, up to
    /// <see cref="SqliteStoreOptions.BusyTimeout"/>; the system's when <see langword="null"/>.
    /// </param>
    public SqliteSecretStore(IOptions<SqliteStoreOptions> options, ILogger<SqliteSecretStore>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        _logger = logger ?? (ILogger)NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        var value = options.Value;
        _path = System.IO.Path.GetFullPath(value.Path ?? throw new ArgumentException("SqliteStoreOptions.Path is required.", nameof(options)));
        _pathBytes = Encoding.UTF8.GetBytes(_path + '\0');
        _directoryBytes = Encoding.UTF8.GetBytes(System.IO.Path.GetDirectoryName(_path) + '\0');
        _busyTimeout = value.BusyTimeout;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = _path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            Pooling = true,
            DefaultTimeout = (int)Math.Ceiling(value.BusyTimeout.TotalSeconds),
        }.ToString();
        _readers = new PointReaderPool(_connectionString, maxIdle: Math.Max(16, 4 * Environment.ProcessorCount));
    }

    /// <inheritdoc />
    public string Name => StoreName;

    /// <summary>How many encrypted records the store holds in memory to answer reads, and their bytes.</summary>
    internal (int Records, long Bytes) CachedRecords => _cache.Held;

    /// <inheritdoc />
    public ValueTask<StoreEntry?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ThrowIfDisposed();
        cancellationToken.ThrowIfCancellationRequested();
        if (Volatile.Read(ref _fileMoved))
        {
            EnsureSameFile();
        }

        if (_cache.TryGet(key, out var cached))
        {
            return new ValueTask<StoreEntry?>(cached);
        }

        if (NotCreatedYet())
        {
            return new ValueTask<StoreEntry?>((StoreEntry?)null);
        }

        PointReader reader;
        var generation = _cache.Generation;
        try
        {
            EnsureInitialized();
            EnsureSameFile();
            reader = _readers.Rent();
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw Unavailable(ex);
        }

        try
        {
            var entry = reader.Read(key);
            _readers.Return(reader);
            if (entry is not null)
            {
                _cache.AddIfUnchanged(entry, generation);
            }

            return new ValueTask<StoreEntry?>(entry);
        }
        catch (SqliteException ex)
        {
            reader.Dispose();
            throw Unavailable(ex);
        }
    }

    /// <inheritdoc />
    public ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        var bytes = value.ToArray();
        return WriteAsync(key, bytes, (connection, transaction) =>
        {
            var revision = NextRevision(connection, transaction);
            using var insert = Command(connection, transaction, "INSERT INTO secrets (key, value, revision) VALUES ($key, $value, $revision) ON CONFLICT (key) DO NOTHING");
            insert.Parameters.AddWithValue("$key", key);
            insert.Parameters.AddWithValue("$value", bytes);
            insert.Parameters.AddWithValue("$revision", revision);
            return insert.ExecuteNonQuery() == 1
                ? revision
                : throw new SecretConflictException(key, SecretConflictReason.AlreadyExists);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public ValueTask<long> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedRevision, CancellationToken cancellationToken = default)
    {
        var bytes = value.ToArray();
        return WriteAsync(key, bytes, (connection, transaction) =>
        {
            var revision = NextRevision(connection, transaction);
            using var update = Command(connection, transaction, "UPDATE secrets SET value = $value, revision = $revision WHERE key = $key AND revision = $expected");
            update.Parameters.AddWithValue("$key", key);
            update.Parameters.AddWithValue("$value", bytes);
            update.Parameters.AddWithValue("$revision", revision);
            update.Parameters.AddWithValue("$expected", expectedRevision);
            return update.ExecuteNonQuery() == 1 ? revision : throw Mismatch(connection, transaction, key);
        }, cancellationToken);
    }

    /// <inheritdoc />
    public async ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
        await WriteAsync(key, value: null, (connection, transaction) =>
        {
            using var delete = Command(connection, transaction, "DELETE FROM secrets WHERE key = $key AND ($expected IS NULL OR revision = $expected)");
            delete.Parameters.AddWithValue("$key", key);
            delete.Parameters.AddWithValue("$expected", expectedRevision is { } expected ? expected : DBNull.Value);
            return delete.ExecuteNonQuery() == 1 ? 0L : throw Mismatch(connection, transaction, key);
        }, cancellationToken).ConfigureAwait(false);

    /// <inheritdoc />
    /// <remarks>
    /// Reads the <c>secret_heads</c> table, where triggers keep each record's first bytes, key and revision: a page
    /// costs one short read transaction over small rows, however large the records are.
    /// </remarks>
    public async ValueTask<StorePage> ListAsync(string prefix, string? startAfter, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        ThrowIfDisposed();
        if (NotCreatedYet())
        {
            return new StorePage([], HasMore: false);
        }

        using var connection = await OpenAsync(cancellationToken).ConfigureAwait(false);
        return await Guard(async () =>
        {
            using var command = connection.CreateCommand();
            var after = startAfter is not null && Utf8Compare(startAfter, prefix) >= 0;
            command.CommandText = "SELECT key, head, revision FROM secret_heads WHERE "
                + (after ? "key > $start" : "key >= $start")
                + (prefix.Length > 0 ? " AND key < CAST($end AS TEXT)" : "")
                + " ORDER BY key LIMIT $limit";
            command.Parameters.AddWithValue("$start", after ? startAfter : prefix);
            command.Parameters.AddWithValue("$end", PrefixEnd(prefix));
            command.Parameters.AddWithValue("$limit", limit + 1);
            var entries = new List<StoreEntryHead>(Math.Min(limit, 1024));
            using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (entries.Count == limit)
                {
                    return new StorePage(entries, HasMore: true);
                }

                entries.Add(new StoreEntryHead(reader.GetString(0), reader.GetFieldValue<byte[]>(1), reader.GetInt64(2)));
            }

            return new StorePage(entries, HasMore: false);
        }).ConfigureAwait(false);
    }

    /// <inheritdoc />
    /// <remarks>
    /// Unhealthy when the file cannot be opened for writing or read; degraded when the file system holding it has less
    /// than 16 MiB free (reads go on, and writes may fail with the disk full), or once a call found the file damaged
    /// (SQLite's "database disk image is malformed"), until the process restarts on a restored file. Once the store
    /// is disposed it throws <see cref="ObjectDisposedException"/> and opens nothing, as every other call does.
    /// </remarks>
    public async ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfDisposed();
        try
        {
            using var connection = await OpenWritableAsync(cancellationToken).ConfigureAwait(false);
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT count(*) FROM revision_counter";
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            if (Volatile.Read(ref _damage) is { } damage)
            {
                return DependencyHealth.Degraded($"{damage} A call found the file damaged; the records it does not reach still answer. Stop the process and restore the file from a backup (or recover what it holds with sqlite3's .recover), then start it again.");
            }

            return FileSystemSpace.Available(_directoryBytes) is { } free && free < MinFreeBytes
                ? DependencyHealth.Degraded(string.Create(CultureInfo.InvariantCulture, $"SQLite store {_path}: the file system holding it has {free} bytes free, less than the {MinFreeBytes / (1024 * 1024)} MiB writes may need. Writes fail while it is full; free space there and they go through again, without a restart."))
                : DependencyHealth.Healthy($"SQLite store {_path}");
        }
        catch (Exception ex) when (ex is DependencyUnavailableException or SqliteException)
        {
            return DependencyHealth.Unhealthy(ex.Message);
        }
    }

    /// <summary>
    /// Throws <see cref="DependencyUnavailableException"/> when another process or store instance has the file open (it
    /// holds the lock file <c>PATH.lock</c>), naming that process when the system says which: for a host that should
    /// refuse to start rather than answer every call as unavailable. Opens and creates nothing.
    /// </summary>
    public void ThrowIfInUseElsewhere()
    {
        if (_ownerLock is null)
        {
            OwnerLock.ThrowIfHeld(_path);
        }
    }

    /// <summary>Releases pooled connections to the file and its lock; every later call throws <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        Volatile.Write(ref _disposed, 1);
        _writeLock.Dispose();
        _readers.Dispose();
        ReleaseLog();
        ClearPool();
        _ownerLock?.Dispose();
    }

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw Disposed(_path);
        }
    }

    private static ObjectDisposedException Disposed(string path) => new(
        $"The SQLite store '{path}' has been disposed: the service provider (host) that made it has stopped, and the file may belong to another store now.",
        innerException: null);

    /// <summary>
    /// Runs <paramref name="write"/> in one immediate transaction; <paramref name="value"/> is the record written (null:
    /// deleted). The connection is opened once the write's turn has come, so that writes queued behind this store's
    /// earlier ones hold no connection (two open files each) while they wait, and leave none behind in the pool.
    /// </summary>
    private async ValueTask<long> WriteAsync(string key, byte[]? value, Func<SqliteConnection, SqliteTransaction, long> write, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(key);
        ThrowIfDisposed();
        CheckFile();
        var started = _time.GetTimestamp();
        if (!await WaitForEarlierWritesAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new DependencyUnavailableException(
                Dependency, $"The SQLite store '{_path}' is busy: a write waited BusyTimeout ({_busyTimeout:c}) behind this store's earlier writes, and gave up.");
        }

        try
        {
            // A write that passed the check before the -wal file was removed, and waited here while the check of
            // another call copied what it held: it would go into the removed file.
            if (LogChanged())
            {
                throw LogLost(writeLockHeld: true);
            }

            var connection = await ConnectWritableAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                // One busy timeout for the whole write: the time spent behind this store's other writes counts.
                var left = _busyTimeout - _time.GetElapsedTime(started);
                var timeout = Math.Max(1, (int)Math.Ceiling(left.TotalSeconds));
                connection.DefaultTimeout = timeout;
                try
                {
                    return await Guard(() => Task.FromResult(Commit(connection, key, value, write))).ConfigureAwait(false);
                }
                catch (DependencyUnavailableException ex) when (ex.InnerException is SqliteException { SqliteErrorCode: SqliteReadOnly })
                {
                    // The file was read-only a moment ago, and connections opened then (to read) kept SQLite's shared
                    // index of the write-ahead log read-only for every connection of this process. Guard has closed the
                    // idle ones: a connection opened now writes, if the file can be written again.
                    await connection.DisposeAsync().ConfigureAwait(false);
                    connection = await ConnectWritableAsync(cancellationToken).ConfigureAwait(false);
                    connection.DefaultTimeout = timeout;
                    return await Guard(() => Task.FromResult(Commit(connection, key, value, write))).ConfigureAwait(false);
                }
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>
    /// Takes <see cref="_writeLock"/>, waiting behind this store's earlier writes at most BusyTimeout by the store's
    /// clock; <see langword="false"/> when that time passed first.
    /// </summary>
    private async ValueTask<bool> WaitForEarlierWritesAsync(CancellationToken cancellationToken)
    {
        if (_writeLock.Wait(0, CancellationToken.None))
        {
            return true;
        }

        using var budget = new CancellationTokenSource(_busyTimeout, _time);
        using var waiting = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, budget.Token);
        try
        {
            await _writeLock.WaitAsync(waiting.Token).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException) when (budget.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private long Commit(SqliteConnection connection, string key, byte[]? value, Func<SqliteConnection, SqliteTransaction, long> write)
    {
        using var transaction = connection.BeginTransaction(deferred: false);
        if (!_revisionCounterChecked)
        {
            CatchUpRevisionCounter(connection, transaction);
        }

        var result = write(connection, transaction);
        transaction.Commit();
        _revisionCounterChecked = true;
        _cache.Written(key, value is null ? null : new StoreEntry(key, value, result));
        return result;
    }

    private async ValueTask<SqliteConnection> OpenAsync(CancellationToken cancellationToken)
    {
        CheckFile();
        return await ConnectAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Creates the file on first use, and refuses the call when the path no longer leads to the file the store opened.</summary>
    private void CheckFile()
    {
        try
        {
            EnsureInitialized();
            EnsureSameFile();
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw Unavailable(ex);
        }
    }

    /// <summary>Opens a connection to the file <see cref="CheckFile"/> checked.</summary>
    private async ValueTask<SqliteConnection> ConnectAsync(CancellationToken cancellationToken)
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            using var pragma = connection.CreateCommand();
            pragma.CommandText = "PRAGMA synchronous = FULL";
            pragma.ExecuteNonQuery();
            return connection;
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw Unavailable(ex);
        }
    }

    /// <summary>
    /// Opens a connection that can write. SQLite opens a file this process may not write read-only, without an error;
    /// such a connection is refused here, and the pool emptied, so that the next call opens the file afresh and
    /// writes again once the operator has fixed its mode.
    /// </summary>
    private async ValueTask<SqliteConnection> OpenWritableAsync(CancellationToken cancellationToken)
    {
        CheckFile();
        return await ConnectWritableAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens a connection that can write (see <see cref="OpenWritableAsync"/>) to the file <see cref="CheckFile"/> checked.</summary>
    private async ValueTask<SqliteConnection> ConnectWritableAsync(CancellationToken cancellationToken)
    {
        var connection = await ConnectAsync(cancellationToken).ConfigureAwait(false);
        if (raw.sqlite3_db_readonly(connection.Handle, "main") != 1)
        {
            return connection;
        }

        await connection.DisposeAsync().ConfigureAwait(false);
        CloseIdleConnections();
        throw ReadOnly(inner: null);
    }

    private DependencyUnavailableException ReadOnly(Exception? inner) => new(
        Dependency,
        $"The SQLite store '{_path}' is read-only to this process: it can read the file but not write it. Give the user it runs as write access to the file and its directory (SQLite writes the -wal and -shm files beside it); the next write opens the file again.",
        inner);

    /// <summary>Closes the pooled connections and the idle readers, so that the next call opens the file afresh.</summary>
    private void CloseIdleConnections()
    {
        ReleaseLog();
        ClearPool();
        _readers.Clear();
    }

    /// <summary>
    /// Whether this store has not opened its file and there is none to open: a read then finds nothing, and creates
    /// nothing, so that a process that only looks (a start-up check that is refused later) leaves no file behind.
    /// </summary>
    private bool NotCreatedYet() => !Volatile.Read(ref _initialized) && !File.Exists(_path);

    private void EnsureInitialized()
    {
        if (!Volatile.Read(ref _initialized))
        {
            Initialize();
        }
    }

    /// <summary>
    /// Refuses the call when the path no longer leads to the file the store opened: connections already open would go
    /// on writing into the removed or replaced file, and new ones would open (or create) the one there now. Checked
    /// again on every call that uses the file, so that the store answers again once the file is put back.
    /// </summary>
    private void EnsureSameFile()
    {
        if (Volatile.Read(ref _logLost) is { } lost)
        {
            throw new DependencyUnavailableException(Dependency, lost);
        }

        if (_openedFile is not { } opened || LinuxFileStatus.OfPath(_pathBytes)?.File is not { } now)
        {
            return;
        }

        var moved = now != opened;
        Volatile.Write(ref _fileMoved, moved);
        if (moved)
        {
            throw FileMoved();
        }

        EnsureSameLog();
    }

    /// <summary>
    /// Refuses the call when the <c>-wal</c> file at its path is no longer the one the store's connections write (removed
    /// or replaced while open): their writes go on into a file no longer on disk, which a crash takes away with every
    /// write it holds, and the store would come back without them. SQLite removes and makes that file again itself,
    /// but only when its last connection closes, which <see cref="_logHolder"/> keeps from happening while the store
    /// checks; so a change seen here is someone else's. The writes the removed file holds are copied into the
    /// database first (a checkpoint through a connection that has it open), and from then on calls are refused.
    /// </summary>
    private void EnsureSameLog()
    {
        if (Volatile.Read(ref _logHolder) is null)
        {
            lock (_initializeLock)
            {
                if (_logHolder is null)
                {
                    HoldLog();
                }
            }
        }

        if (LogChanged())
        {
            throw LogLost(writeLockHeld: false);
        }
    }

    private bool LogChanged() =>
        Volatile.Read(ref _logLost) is not null
        || (Volatile.Read(ref _heldLog) is { } held && LinuxFileStatus.OfPath(_logPathBytes)?.File is { } now && now != held.Value);

    /// <summary>
    /// Opens a connection that reads the database once, which opens the <c>-wal</c> file, and keeps it open until the
    /// pool is emptied, so that SQLite does not remove that file while the store runs; and notes which file it is.
    /// </summary>
    private void HoldLog()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            using var read = connection.CreateCommand();
            read.CommandText = "SELECT count(*) FROM revision_counter";
            read.ExecuteScalar();
        }
        catch
        {
            connection.Dispose();
            throw;
        }

        _logHolder = connection;
        Volatile.Write(ref _heldLog, LinuxFileStatus.OfPath(_logPathBytes)?.File is { } log && log != default ? new StrongBox<FileIdentity>(log) : null);
    }

    private void ReleaseLog()
    {
        lock (_initializeLock)
        {
            _logHolder?.Dispose();
            _logHolder = null;
            Volatile.Write(ref _heldLog, null);
        }
    }

    /// <summary>
    /// Copies what the removed <c>-wal</c> file holds into the database, after the writes under way (so that theirs are
    /// copied too), and refuses every call from then on; when the copy cannot be made, the next call tries again.
    /// </summary>
    /// <param name="writeLockHeld">Whether the caller holds <see cref="_writeLock"/> (a write about to be made).</param>
    private DependencyUnavailableException LogLost(bool writeLockHeld)
    {
        var log = System.IO.Path.GetFileName(_path) + "-wal";
        var what = $"The SQLite store '{_path}' lost its write-ahead log: {log} was removed or replaced while the store had it open";
        var writesDone = !writeLockHeld && _writeLock.Wait(_busyTimeout);
        try
        {
            lock (_initializeLock)
            {
                if (_logLost is null && _logHolder is not null)
                {
                    using var checkpoint = _logHolder.CreateCommand();
                    checkpoint.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
                    try
                    {
                        using var result = checkpoint.ExecuteReader();
                        if (!result.Read() || result.GetInt64(0) != 0)
                        {
                            return new DependencyUnavailableException(Dependency, $"{what}, and the writes it held could not be copied into the database yet: a reader held it. The next call tries again; stop the process cleanly (SIGTERM), which copies them too, rather than killing it.");
                        }
                    }
                    catch (SqliteException ex)
                    {
                        return new DependencyUnavailableException(Dependency, $"{what}, and the writes it held could not be copied into the database yet ({ex.Message}). The next call tries again; stop the process cleanly (SIGTERM), which copies them too, rather than killing it.", ex);
                    }

                    Volatile.Write(ref _logLost, $"{what}: a write now would go into a file no longer on disk, lost at the next crash, so reads and writes are refused. The writes it held were copied into {_path}. Restart the process (trousseaud) to open the store again; remove or restore the store's files only while the process is stopped.");
                    Volatile.Write(ref _fileMoved, true);
                }

                return new DependencyUnavailableException(Dependency, _logLost ?? $"{what}.");
            }
        }
        finally
        {
            if (writesDone)
            {
                _writeLock.Release();
            }
        }
    }

    private DependencyUnavailableException FileMoved() => new(
        Dependency,
        $"The SQLite store '{_path}' is no longer the file this store opened: it was {(File.Exists(_path) ? "replaced" : "removed")} while in use, and a write now would be lost with the old file, so reads and writes are refused. Put the file back, or restart the process (trousseaud) to open the file now at that path; restore a backup only while the process is stopped.");

    private void Initialize()
    {
        lock (_initializeLock)
        {
            if (_initialized)
            {
                return;
            }

            // The lock first, so that no other store in this process has SQLite's locks on the files opened (and closed)
            // here, which closing any handle to a file releases; then the files, before SQLite opens them, refused if
            // another user may have put them there; then SQLite, which opens its -wal and -shm files without following
            // links.
            OwnerOnlyFile.EnsureParentDirectory(_path);
            _ownerLock = OwnerLock.Acquire(_path);
            try
            {
                DatabaseFileModes.MakePrivate(_path, _logger);
                DeleteTemporaries();
                OwnerOnlyFile.EnsureExists(_path);
                _openedFile = LinuxFileStatus.OfPath(_pathBytes)?.File;
                CreateOrUpgradeSchema();
                _logPathBytes = Encoding.UTF8.GetBytes(DatabaseFileModes.FileOpened(_path) + "-wal\0");
                HoldLog();
            }
            catch
            {
                // Let go of the file, so that the next call tries again on whatever is there by then (the operator
                // may have restored or removed it) instead of finding its own lock, or a pooled handle to the old file.
                ClearPool();
                _ownerLock.Dispose();
                _ownerLock = null;
                throw;
            }

            Volatile.Write(ref _initialized, true);
        }
    }

    /// <summary>
    /// Deletes the empty files a process killed while it created the database left beside it (between the creation
    /// of the temporary file and its rename onto the path), so that kills at that moment do not pile them up. Called
    /// holding the lock, so no other store is creating the file meanwhile.
    /// </summary>
    private void DeleteTemporaries()
    {
        if (OwnerOnlyFile.DeleteTemporaries(_path) is > 0 and var deleted)
        {
            Log.TemporariesDeleted(_logger, _path, deleted);
        }
    }

    private void CreateOrUpgradeSchema()
    {
        using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        RefuseNewerSchema(connection);
        RefuseOtherApplication(connection);
        using (var create = connection.CreateCommand())
        {
            create.CommandText = Schema.Create;
            create.ExecuteNonQuery();
        }

        using var version = connection.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        if ((long)version.ExecuteScalar()! < Schema.Version)
        {
            using var transaction = connection.BeginTransaction(deferred: false);
            using var upgrade = Command(connection, transaction, Schema.AddHeads);
            upgrade.ExecuteNonQuery();
            transaction.Commit();
        }
    }

    /// <summary>
    /// Moves the revision counter up to the greatest revision a record holds, when a record's revision was set above it
    /// (by hand, or a table copied in from another file): the next writes would otherwise give revisions below it, and
    /// in time reuse it for another record of that key. Reads the small <c>secret_heads</c> table, in the first write
    /// of the store (a file opened read-only is not written).
    /// </summary>
    private void CatchUpRevisionCounter(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var catchUp = Command(connection, transaction, """
            UPDATE revision_counter SET value = (SELECT max(revision) FROM secret_heads)
            WHERE id = 1 AND value < (SELECT max(revision) FROM secret_heads)
            RETURNING value
            """);
        if (catchUp.ExecuteScalar() is long revision)
        {
            Log.RevisionCounterCaughtUp(_logger, _path, revision);
        }
    }

    /// <summary>
    /// Refuses a file a later build has made or upgraded (a <c>user_version</c> above <see cref="Schema.Version"/>), before
    /// anything is written to it: this build cannot know what that schema keeps, and could misread it or break it.
    /// </summary>
    private void RefuseNewerSchema(SqliteConnection connection)
    {
        using var version = connection.CreateCommand();
        version.CommandText = "PRAGMA user_version";
        var found = (long)version.ExecuteScalar()!;
        if (found > Schema.Version)
        {
            throw new DependencyUnavailableException(
                Dependency,
                $"The SQLite store '{_path}' has schema version {found}, newer than this build's {Schema.Version}: a later Trousseau made or upgraded it, and this build could misread or damage it, so it is neither read nor written and is left as it is. Run that later build on it, or restore the copy taken before the upgrade.");
        }
    }

    /// <summary>
    /// Refuses a database that holds tables Trousseau never makes (<c>Sqlite:Path</c> set to another application's
    /// file), before anything is written to it: its records would otherwise go into that file beside the other
    /// application's data, and the store would look empty.
    /// </summary>
    private void RefuseOtherApplication(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_schema WHERE type IN ('table', 'view') AND name NOT IN ('secrets', 'revision_counter', 'secret_heads') AND name NOT LIKE 'sqlite!_%' ESCAPE '!' ORDER BY name LIMIT 6";
        using var reader = command.ExecuteReader();
        var others = new List<string>();
        while (reader.Read())
        {
            others.Add(reader.GetString(0));
        }

        if (others.Count == 0)
        {
            return;
        }

        var named = string.Join(", ", others.Take(5)) + (others.Count > 5 ? ", ..." : "");
        throw new DependencyUnavailableException(
            Dependency,
            $"The SQLite store '{_path}' is a database of another application: it holds the table{(others.Count > 1 ? "s" : "")} {named}, which Trousseau never makes, so it is neither read nor written and is left as it is. Set Trousseau:Sqlite:Path to Trousseau's own file, or to a path where no file is yet.");
    }

    private void ClearPool()
    {
        using var connection = new SqliteConnection(_connectionString);
        SqliteConnection.ClearPool(connection);
    }

    private static SqliteCommand Command(SqliteConnection connection, SqliteTransaction transaction, string text)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = text;
        return command;
    }

    private static long NextRevision(SqliteConnection connection, SqliteTransaction transaction)
    {
        using var command = Command(connection, transaction, "UPDATE revision_counter SET value = value + 1 WHERE id = 1 RETURNING value");
        return (long)command.ExecuteScalar()!;
    }

    private static TrousseauException Mismatch(SqliteConnection connection, SqliteTransaction transaction, string key)
    {
        using var exists = Command(connection, transaction, "SELECT 1 FROM secrets WHERE key = $key");
        exists.Parameters.AddWithValue("$key", key);
        return exists.ExecuteScalar() is null
            ? new SecretNotFoundException(key)
            : new SecretConflictException(key, SecretConflictReason.RevisionMismatch);
    }

    /// <summary>Compares as SQLite's default collation does: by UTF-8 bytes.</summary>
    private static int Utf8Compare(string left, string right) =>
        Encoding.UTF8.GetBytes(left).AsSpan().SequenceCompareTo(Encoding.UTF8.GetBytes(right));

    /// <summary>The smallest UTF-8 byte string above every key that starts with <paramref name="prefix"/>.</summary>
    private static byte[] PrefixEnd(string prefix)
    {
        // Well-formed UTF-8 never holds the byte 0xFF, so raising the last byte always works.
        var end = Encoding.UTF8.GetBytes(prefix);
        if (end.Length > 0)
        {
            end[^1]++;
        }

        return end;
    }

    private async Task<T> Guard<T>(Func<Task<T>> operation)
    {
        try
        {
            return await operation().ConfigureAwait(false);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == SqliteBusy)
        {
            throw new DependencyUnavailableException(
                Dependency, $"The SQLite store '{_path}' is locked by another process: waited BusyTimeout ({_busyTimeout:c}) for it, and gave up.", ex);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == SqliteReadOnly)
        {
            CloseIdleConnections();
            throw ReadOnly(ex);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode != SqliteConstraint)
        {
            throw Unavailable(ex);
        }
    }

    private DependencyUnavailableException Unavailable(Exception ex)
    {
        if (ex is SqliteException { SqliteErrorCode: SqliteFull })
        {
            return new(Dependency, $"The SQLite store '{_path}' cannot be written: the file system holding it is full ({FreeBytes()} bytes free); nothing was changed. Free space there, and the next call goes through without a restart.", ex);
        }

        var unavailable = new DependencyUnavailableException(Dependency, $"The SQLite store '{_path}' is unavailable: {ex.Message}{Hint(ex)}", ex);
        if (ex is SqliteException { SqliteErrorCode: SqliteCorrupt } && Volatile.Read(ref _initialized))
        {
            // Damage inside a file the store has open shows only to the calls that read the damaged pages: the health
            // check remembers it. (A file that does not open at all is tried again by the next call, and may be restored.)
            Volatile.Write(ref _damage, unavailable.Message);
        }

        return unavailable;
    }

    private string FreeBytes() =>
        FileSystemSpace.Available(_directoryBytes)?.ToString(CultureInfo.InvariantCulture) ?? "unknown";

    /// <summary>
    /// What SQLite's "unable to open database file" and "disk I/O error" leave out when the file may be fine and its
    /// directory is not: one that this process may not create files in, or remove them from.
    /// </summary>
    private string Hint(Exception ex) => ex switch
    {
        SqliteException { SqliteErrorCode: SqliteCannotOpen } =>
            $" SQLite opens the file and creates its -wal and -shm files beside it: this process needs to read and write the file and the directory {System.IO.Path.GetDirectoryName(_path)}.",
        SqliteException { SqliteExtendedErrorCode: SqliteCannotDelete } =>
            $" SQLite could not remove the journal {_path}-journal after rolling back the write it holds (one a process was stopped in the middle of): this process needs to write the directory {System.IO.Path.GetDirectoryName(_path)}. Leave the journal where it is; the next call rolls it back again.",
        _ => "",
    };
}
