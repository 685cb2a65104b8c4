using System.Runtime.CompilerServices;

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
        lock (_lock)
        {
            return new(_entries.GetValueOrDefault(key));
        }
    }

    /// <inheritdoc />
    public ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default)
    {
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
        lock (_lock)
        {
            Check(key, expectedRevision);
            return new(Put(key, value));
        }
    }

    /// <inheritdoc />
    public ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default)
    {
        lock (_lock)
        {
            Check(key, expectedRevision);
            _entries.Remove(key);
            return ValueTask.CompletedTask;
        }
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<StoreEntry> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        StoreEntry[] matches;
        lock (_lock)
        {
            matches = [.. _entries.Values.Where(e => e.Key.StartsWith(prefix, StringComparison.Ordinal))];
        }

        foreach (var entry in matches)
        {
            cancellationToken.ThrowIfCancellationRequested();
            yield return entry;
        }
    }

    /// <inheritdoc />
    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) =>
        new(DependencyHealth.Healthy("in-memory store"));

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
