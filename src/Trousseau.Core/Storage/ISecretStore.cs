namespace Trousseau;

/// <summary>
/// A key-value store of opaque, already-encrypted records with per-record revisions and compare-and-swap.
/// Revisions are positive, grow with every write, and are never reused for the same store, even after a delete.
/// Implementations: in-memory, SQLite, etcd.
/// </summary>
/// <remarks>
/// Trousseau remembers the revision of the records it last read or wrote and updates them by compare-and-swap at
/// that revision without reading them again, so a revision must never name two different records of one key.
/// </remarks>
public interface ISecretStore
{
    /// <summary>The store's name, for example <c>sqlite</c>; used in health reports and errors.</summary>
    string Name { get; }

    /// <summary>Reads one record.</summary>
    /// <param name="key">The record's key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The record, or <see langword="null"/> when there is none.</returns>
    ValueTask<StoreEntry?> GetAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Writes a record only if the key is absent.</summary>
    /// <param name="key">The record's key.</param>
    /// <param name="value">The record.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new revision.</returns>
    /// <exception cref="SecretConflictException">The key exists (<see cref="SecretConflictReason.AlreadyExists"/>).</exception>
    ValueTask<long> CreateAsync(string key, ReadOnlyMemory<byte> value, CancellationToken cancellationToken = default);

    /// <summary>Replaces a record only if it is still at <paramref name="expectedRevision"/>.</summary>
    /// <param name="key">The record's key.</param>
    /// <param name="value">The new record.</param>
    /// <param name="expectedRevision">The revision the caller read.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new revision.</returns>
    /// <exception cref="SecretNotFoundException">The key is absent.</exception>
    /// <exception cref="SecretConflictException">The revision differs (<see cref="SecretConflictReason.RevisionMismatch"/>).</exception>
    ValueTask<long> UpdateAsync(string key, ReadOnlyMemory<byte> value, long expectedRevision, CancellationToken cancellationToken = default);

    /// <summary>Deletes a record, if it is at <paramref name="expectedRevision"/> when that is given.</summary>
    /// <param name="key">The record's key.</param>
    /// <param name="expectedRevision">The revision the caller read, or <see langword="null"/> for any.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecretNotFoundException">The key is absent.</exception>
    /// <exception cref="SecretConflictException">The revision differs.</exception>
    ValueTask DeleteAsync(string key, long? expectedRevision = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists one page of the records whose keys start with <paramref name="prefix"/>, in ordinal key order, each with
    /// the head of its value only (<see cref="StoreEntryHead"/>): a listing never reads whole records, and its memory
    /// is bounded by <paramref name="limit"/>. Pages are read one at a time, each as the store is then: a key present
    /// from the first page to the last is listed exactly once, and keys created or deleted meanwhile never disturb
    /// the others.
    /// </summary>
    /// <param name="prefix">The key prefix; empty lists all.</param>
    /// <param name="startAfter">The last key of the previous page, or <see langword="null"/> for the first page.</param>
    /// <param name="limit">The most entries the page holds; at least 1.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The page.</returns>
    ValueTask<StorePage> ListAsync(string prefix, string? startAfter, int limit, CancellationToken cancellationToken = default);

    /// <summary>Checks whether the store can serve reads and writes now.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The store's health.</returns>
    ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default);
}
