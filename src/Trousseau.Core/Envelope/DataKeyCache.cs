using System.Collections.Concurrent;

namespace Trousseau.Envelope;

/// <summary>
/// Unwrapped data keys by their wrapped bytes, bounded in count and age. Evicted keys are disposed, which zeroes
/// them. Lookups by span allocate nothing.
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

    public bool TryGet(ReadOnlySpan<byte> wrapped, out DataKey key)
    {
        if (_bySpan.TryGetValue(wrapped, out key!) && !key.IsDisposed)
        {
            var now = _time.GetTimestamp();
            if (_time.GetElapsedTime(key.CreatedAt, now) < _timeToLive)
            {
                key.LastUsed = now;
                return true;
            }

            Remove(key);
        }

        key = null!;
        return false;
    }

    /// <summary>Adds a key, or returns the one already cached for the same wrapped bytes (disposing the newcomer).</summary>
    public DataKey Add(DataKey key, DataKey? keep = null)
    {
        var cached = _entries.GetOrAdd(key.Wrapped, key);
        if (!ReferenceEquals(cached, key))
        {
            if (!cached.IsDisposed)
            {
                key.Dispose();
                return cached;
            }

            _entries[key.Wrapped] = key;
        }

        while (_entries.Count > _capacity && EvictLeastRecentlyUsed(keep ?? key))
        {
        }

        return key;
    }

    public void Remove(DataKey key)
    {
        if (_entries.TryRemove(new KeyValuePair<byte[], DataKey>(key.Wrapped, key)))
        {
            key.Dispose();
        }
    }

    public void RemoveExpired()
    {
        var now = _time.GetTimestamp();
        foreach (var (_, key) in _entries)
        {
            if (key.IsDisposed || _time.GetElapsedTime(key.CreatedAt, now) >= _timeToLive)
            {
                Remove(key);
            }
        }
    }

    public void Dispose()
    {
        _sweeper.Dispose();
        foreach (var (_, key) in _entries)
        {
            Remove(key);
        }
    }

    private bool EvictLeastRecentlyUsed(DataKey keep)
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
