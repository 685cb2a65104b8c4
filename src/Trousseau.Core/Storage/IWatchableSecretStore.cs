namespace Trousseau;

/// <summary>A store that can tell when records under a prefix change (etcd).</summary>
public interface IWatchableSecretStore : ISecretStore
{
    /// <summary>
    /// Reports every change under <paramref name="prefix"/> from now on, until cancelled. Connection losses are
    /// bridged by resuming after the last revision seen; when the store has discarded that history meanwhile, a
    /// <see cref="StoreChangeKind.Reset"/> tells the consumer to read everything under the prefix again.
    /// </summary>
    /// <param name="prefix">The key prefix; empty watches every record.</param>
    /// <param name="cancellationToken">Ends the watch.</param>
    /// <returns>The changes, in revision order.</returns>
    IAsyncEnumerable<StoreChange> WatchAsync(string prefix, CancellationToken cancellationToken = default);
}

/// <summary>One change seen by <see cref="IWatchableSecretStore.WatchAsync"/>.</summary>
/// <param name="Key">The record's key, or <see langword="null"/> for a <see cref="StoreChangeKind.Reset"/>.</param>
/// <param name="Kind">What happened.</param>
/// <param name="Revision">The store revision of the change.</param>
public sealed record StoreChange(string? Key, StoreChangeKind Kind, long Revision);

/// <summary>What a <see cref="StoreChange"/> reports.</summary>
public enum StoreChangeKind
{
    /// <summary>The record was created or updated.</summary>
    Put,

    /// <summary>The record was deleted.</summary>
    Delete,

    /// <summary>Changes may have been missed (the store compacted its history): read everything again.</summary>
    Reset,
}
