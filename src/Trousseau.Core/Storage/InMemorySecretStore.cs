namespace Trousseau;

/// <summary>
/// A store in this process's memory: for tests and for throw-away instances. Records are lost when the process
/// ends. Thread-safe; writes are linearizable.
/// </summary>
public sealed class InMemorySecretStore : ISecretStore
{
    /// <summary>The store's name in configuration (<c>Trousseau:Store=memory</c>).</summary>
    public const string StoreName = "memory";

    private readonly SortedDictionary<string, StoreEntry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private long _revision;

    /// <inheritdoc />
    public string Name => StoreName;

    /// <inheritdoc />
    public ValueTask<StoreEntry?> GetAsync(string key, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            return new(_entries.GetValueOrDefault(key));
        }
    }

    /// <inheritdoc />
    public ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (_entries.ContainsKey(key))
            {
                throw new SecretConflictException(key, SecretConflictReason.AlreadyExists);
            }

            return new(Put(key, value));
        }
    }

    /// <inheritdoc />
    public ValueTask<long> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedRevision, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            Check(key, expectedRevision);
            return new(Put(key, value));
        }
    }

    /// <inheritdoc />
    public ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            Check(key, expectedRevision);
            _entries.Remove(key);
            return ValueTask.CompletedTask;
        }
    }

    /// <inheritdoc />
    public ValueTask<StorePage> ListAsync(string prefix, string? startAfter, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        ArgumentOutOfRangeException.ThrowIfLessThan(limit, 1);
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            var matches = _entries.Values
                .SkipWhile(e => string.CompareOrdinal(e.Key, prefix) < 0 || (startAfter is not null && string.CompareOrdinal(e.Key, startAfter) <= 0))
                .TakeWhile(e => e.Key.StartsWith(prefix, StringComparison.Ordinal))
                .Take(limit + 1)
                .ToList();
            var page = matches.Take(limit).Select(e => new StoreEntryHead(e.Key, e.Value[..Math.Min(e.Value.Length, StoreEntryHead.MaxLength)], e.Revision));
            return new(new StorePage([.. page], matches.Count > limit));
        }
    }

    /// <inheritdoc />
    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return new(DependencyHealth.Healthy("in-memory store"));
    }

    private void Check(string key, long? expectedRevision)
    {
        if (!_entries.TryGetValue(key, out var current))
        {
            throw new SecretNotFoundException(key);
        }

        if (expectedRevision is { } expected && current.Revision != expected)
        {
            throw new SecretConflictException(key, SecretConflictReason.RevisionMismatch);
        }
    }

    private long Put(string key, ReadOnlyMemory<byte> value)
    {
        var revision = ++_revision;
        _entries[key] = new StoreEntry(key, value.ToArray(), revision);
        return revision;
    }
}
