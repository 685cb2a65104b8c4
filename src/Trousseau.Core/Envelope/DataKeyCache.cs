using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Trousseau.Envelope;

/// <summary>
/// Unwrapped data keys by their wrapped bytes, bounded in count and age. The cache holds one reference on each key
/// it lists; a key is zeroed once it has left the cache and its last user has released it, so eviction never fails a
/// read in progress. Lookups by span allocate nothing.
/// </summary>
internal sealed class DataKeyCache : IDisposable
{
    private readonly ConcurrentDictionary<byte[], DataKey> _entries = new(ByteArrayComparer.Instance);
    private readonly ConcurrentDictionary<byte[], DataKey>.AlternateLookup<ReadOnlySpan<byte>> _bySpan;
    private readonly TimeProvider _time;
    private readonly int _capacity;
    private readonly TimeSpan _timeToLive;
    private readonly ITimer _sweeper;

    public DataKeyCache(int capacity, TimeSpan timeToLive, TimeProvider time)
    {
        _bySpan = _entries.GetAlternateLookup<ReadOnlySpan<byte>>();
        _capacity = capacity;
        _timeToLive = timeToLive;
        _time = time;
        var sweepEvery = TimeSpan.FromTicks(Math.Clamp(timeToLive.Ticks / 4, TimeSpan.TicksPerSecond, TimeSpan.TicksPerMinute));
        _sweeper = time.CreateTimer(static state => ((DataKeyCache)state!).RemoveExpired(), this, sweepEvery, sweepEvery);
    }

    public int Count => _entries.Count;

    /// <summary>Finds the key for <paramref name="wrapped"/> and takes a reference on it for the caller, who releases it after use.</summary>
    public bool TryLease(ReadOnlySpan<byte> wrapped, [NotNullWhen(true)] out DataKey? key)
    {
        if (_bySpan.TryGetValue(wrapped, out var cached))
        {
            var now = _time.GetTimestamp();
            if (_time.GetElapsedTime(cached.CreatedAt, now) >= _timeToLive)
            {
                Remove(cached);
            }
            else if (cached.TryAcquire())
            {
                cached.LastUsed = now;
                key = cached;
                return true;
            }
        }

        key = null;
        return false;
    }

    /// <summary>
    /// Adds <paramref name="key"/>, on which the caller holds a reference, and returns the key the caller should use
    /// with that reference: <paramref name="key"/>, or the one already cached for the same wrapped bytes (then
    /// <paramref name="key"/> is released). Least recently used keys beyond the capacity leave the cache, but never
    /// <paramref name="keep"/>; a key that leaves it stays usable until its last user releases it.
    /// </summary>
    public DataKey AddLeased(DataKey key, DataKey? keep)
    {
        key.TryAcquire();
        while (true)
        {
            var cached = _entries.GetOrAdd(key.Wrapped, key);
            if (ReferenceEquals(cached, key))
            {
                break;
            }

            // A key whose last reference is gone has already left the dictionary: adding again then succeeds.
            if (cached.TryAcquire())
            {
                key.Release();
                key.Release();
                return cached;
            }
        }

        while (_entries.Count > _capacity && EvictLeastRecentlyUsed(keep))
        {
        }

        return key;
    }

    public void Remove(DataKey key)
    {
        if (_entries.TryRemove(new KeyValuePair<byte[], DataKey>(key.Wrapped, key)))
        {
            key.Release();
        }
    }

    public void RemoveExpired()
    {
        var now = _time.GetTimestamp();
        foreach (var (_, key) in _entries)
        {
            if (_time.GetElapsedTime(key.CreatedAt, now) >= _timeToLive)
            {
                Remove(key);
            }
        }
    }

    /// <summary>Lets go of every key; each is zeroed once its last user has released it.</summary>
    public void RemoveAll()
    {
        foreach (var (_, key) in _entries)
        {
            Remove(key);
        }
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        RemoveAll();
    }

    private bool EvictLeastRecentlyUsed(DataKey? keep)
    {
        DataKey? oldest = null;
        foreach (var (_, key) in _entries)
        {
            if (!ReferenceEquals(key, keep) && (oldest is null || key.LastUsed < oldest.LastUsed))
            {
                oldest = key;
            }
        }

        if (oldest is null)
        {
            return false;
        }

        Remove(oldest);
        return true;
    }

    private sealed class ByteArrayComparer : IEqualityComparer<byte[]>, IAlternateEqualityComparer<ReadOnlySpan<byte>, byte[]>
    {
        public static ByteArrayComparer Instance { get; } = new();

        public bool Equals(byte[]? x, byte[]? y) => x.AsSpan().SequenceEqual(y);

        public int GetHashCode(byte[] obj) => GetHashCode(obj.AsSpan());

        public bool Equals(ReadOnlySpan<byte> alternate, byte[] other) => alternate.SequenceEqual(other);

        public int GetHashCode(ReadOnlySpan<byte> alternate)
        {
            var hash = new HashCode();
            hash.AddBytes(alternate);
            return hash.ToHashCode();
        }

        public byte[] Create(ReadOnlySpan<byte> alternate) => alternate.ToArray();
    }
}
