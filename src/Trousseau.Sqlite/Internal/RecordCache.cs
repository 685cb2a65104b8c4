using System.Collections.Concurrent;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// The encrypted records this process has read or written, so that a read needs no SQLite transaction (each of
/// which takes file locks: several system calls). Correct because one process owns the database file (see
/// <see cref="OwnerLock"/>) and every write goes through <see cref="Written"/> before the write lock is released.
/// A read that raced with a write is not cached: <see cref="AddIfUnchanged"/> compares write generations.
/// Bounded in entries, in value size and in the bytes of all values together, so that a store of large secrets is not
/// held whole in memory once every record has been read (the worker's pass at start reads them all): a record that
/// does not fit is read from the file each time. Holds ciphertext only.
/// </summary>
internal sealed class RecordCache(int maxEntries, int maxValueBytes, long maxTotalBytes)
{
    private readonly ConcurrentDictionary<string, StoreEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _generation;
    private long _bytes;

    /// <summary>Read before a database read, passed to <see cref="AddIfUnchanged"/> after it.</summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>How many records are held, and the bytes of their values.</summary>
    public (int Records, long Bytes) Held
    {
        get
        {
            lock (_lock)
            {
                return (_entries.Count, _bytes);
            }
        }
    }

    public bool TryGet(string key, out StoreEntry entry) => _entries.TryGetValue(key, out entry!);

    public void AddIfUnchanged(StoreEntry entry, long generation)
    {
        lock (_lock)
        {
            if (_generation == generation && !_entries.ContainsKey(entry.Key) && Fits(entry))
            {
                _entries[entry.Key] = entry;
                _bytes += entry.Value.Length;
            }
        }
    }

    /// <summary>Records a committed write: the new entry, or <see langword="null"/> for a delete.</summary>
    public void Written(string key, StoreEntry? entry)
    {
        lock (_lock)
        {
            _generation++;
            if (_entries.TryRemove(key, out var old))
            {
                _bytes -= old.Value.Length;
            }

            if (entry is not null && Fits(entry))
            {
                _entries[key] = entry;
                _bytes += entry.Value.Length;
            }
        }
    }

    /// <summary>Whether <paramref name="entry"/> may be held beside those held already.</summary>
    private bool Fits(StoreEntry entry) =>
        entry.Value.Length <= maxValueBytes && _entries.Count < maxEntries && _bytes + entry.Value.Length <= maxTotalBytes;
}
