using System.Collections.Concurrent;

namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// A store that passes every call to a real one, and can run something of the test's just before the next update of
/// a key reaches it: another writer slipping in between a reader's read and its write, on purpose rather than by luck.
/// </summary>
internal sealed class InterleavingStore(ISecretStore inner) : ISecretStore
{
    private readonly ConcurrentDictionary<string, Func<Task>> _beforeUpdate = new(StringComparer.Ordinal);
    private Func<Task>? _beforeList;
    private Func<Task>? _afterList;

    public string Name => inner.Name;

    /// <summary>Runs <paramref name="action"/> once, just before the next update of <paramref name="key"/> goes to the store.</summary>
    public void BeforeNextUpdateOf(string key, Func<Task> action) => _beforeUpdate[key] = action;

    /// <summary>Runs <paramref name="action"/> once, just before the next listing goes to the store.</summary>
    public void BeforeNextList(Func<Task> action) => _beforeList = action;

    /// <summary>Runs <paramref name="action"/> once, when the next listing has been read from the store and before its caller gets it.</summary>
    public void AfterNextList(Func<Task> action) => _afterList = action;

    public ValueTask<StoreEntry?> GetAsync(string key, CancellationToken cancellationToken = default) => inner.GetAsync(key, cancellationToken);

    public ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default) =>
        inner.CreateAsync(key, value, cancellationToken);

    public async ValueTask<long> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedRevision, CancellationToken cancellationToken = default)
    {
        if (_beforeUpdate.TryRemove(key, out var action))
        {
            await action();
        }

        return await inner.UpdateAsync(key, value, expectedRevision, cancellationToken);
    }

    public ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default) =>
        inner.DeleteAsync(key, expectedRevision, cancellationToken);

    public async ValueTask<StorePage> ListAsync(string prefix, string? startAfter, int limit, CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _beforeList, null) is { } action)
        {
            await action();
        }

        var page = await inner.ListAsync(prefix, startAfter, limit, cancellationToken);
        if (Interlocked.Exchange(ref _afterList, null) is { } after)
        {
            await after();
        }

        return page;
    }

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => inner.CheckHealthAsync(cancellationToken);
}
