using System.Collections.Concurrent;

namespace Trousseau.Sqlite.Internal;

/// <summary>
/// The encrypted records this process has read or written, so that a read needs no SQLite transaction (each of
/// which takes file locks: several system calls). Correct because one process owns the database file (see
/// <see cref="OwnerLock"/>) and every write goes through <see cref="Written"/> before the write lock is released.
/// A read that raced with a write is not cached: <see cref="AddIfUnchanged"/> compares write generations.
/// Bounded in entries and in value size; holds ciphertext only.
/// </summary>
internal sealed class RecordCache(int maxEntries, int maxValueBytes)
{
    private readonly ConcurrentDictionary<string, StoreEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _generation;

    /// <summary>Read before a database read, passed to <see cref="AddIfUnchanged"/> after it.</summary>
    public long Generation => Volatile.Read(ref _generation);

    public bool TryGet(string key, out StoreEntry entry) => _entries.TryGetValue(key, out entry!);

    public void AddIfUnchanged(StoreEntry entry, long generation)
    {
        if (!Fits(entry))
        {
            return;
        }

        lock (_lock)
        {
            if (_generation == generation)
            {
                _entries.TryAdd(entry.Key, entry);
            }
        }
    }

    /// <summary>Records a committed write: the new entry, or <see langword="null"/> for a delete.</summary>
    public void Written(string key, StoreEntry? entry)
    {
        lock (_lock)
        {
            _generation++;
            if (entry is not null && Fits(entry) && (_entries.ContainsKey(key) || _entries.Count < maxEntries))
            {
                _entries[key] = entry;
            }
            else
            {
                _entries.TryRemove(key, out _);
            }
        }
    }

    private bool Fits(StoreEntry entry) => entry.Value.Length <= maxValueBytes && _entries.Count < maxEntries;
}
