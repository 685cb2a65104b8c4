namespace Trousseau;

/// <summary>
/// Trousseau's one interface: encryption of bytes, and encrypted secrets kept in a store. The in-process
/// implementation comes from <c>services.AddTrousseau(...)</c>; a remote one talks to <c>trousseaud</c>.
/// </summary>
/// <remarks>
/// Every method throws a subtype of <see cref="TrousseauException"/> for expected failures:
/// <see cref="SecretNotFoundException"/>, <see cref="SecretConflictException"/>,
/// <see cref="InvalidInputException"/>, <see cref="InvalidCiphertextException"/>,
/// <see cref="DependencyUnavailableException"/> and <see cref="AccessForbiddenException"/>. A call whose token is
/// cancelled, before it starts or while it waits, throws <see cref="OperationCanceledException"/> carrying that token;
/// the in-process implementation throws <see cref="ObjectDisposedException"/> once the service provider (host) that
/// made it has been disposed.
/// </remarks>
public interface ITrousseau
{
    /// <summary>Encrypts bytes into a self-describing envelope.</summary>
    /// <param name="plaintext">At most <see cref="TrousseauLimits.MaxPlaintextBytes"/> bytes.</param>
    /// <param name="context">
    /// Optional associated data: not stored, but the same bytes must be given to <see cref="DecryptAsync"/>.
    /// At most <see cref="TrousseauLimits.MaxContextBytes"/> bytes.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The ciphertext and the provider, key id and key version that protect it.</returns>
    /// <exception cref="InvalidInputException">The plaintext or the context is over its limit.</exception>
    ValueTask<EncryptResult> EncryptAsync(
        ReadOnlyMemory<byte> plaintext,
        ReadOnlyMemory<byte> context = default,
        CancellationToken cancellationToken = default);

    /// <summary>Decrypts an envelope made by <see cref="EncryptAsync"/>.</summary>
    /// <param name="ciphertext">The envelope, unchanged.</param>
    /// <param name="context">The associated data given to <see cref="EncryptAsync"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The plaintext.</returns>
    /// <exception cref="InvalidCiphertextException">The envelope is malformed, tampered with, or the context differs.</exception>
    ValueTask<byte[]> DecryptAsync(
        ReadOnlyMemory<byte> ciphertext,
        ReadOnlyMemory<byte> context = default,
        CancellationToken cancellationToken = default);

    /// <summary>Creates a secret; fails with a conflict if the name is taken.</summary>
    /// <param name="name">The name; see <see cref="SecretNames"/>.</param>
    /// <param name="type">The type, which decides the keys <paramref name="data"/> must hold.</param>
    /// <param name="data">The data, key to value, at most <see cref="TrousseauLimits.MaxSecretDataBytes"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new secret's metadata.</returns>
    /// <exception cref="SecretConflictException">The name is taken (<see cref="SecretConflictReason.AlreadyExists"/>).</exception>
    /// <exception cref="InvalidInputException">
    /// The name is not a secret name, or the data is empty, has a bad key or lacks a key the type needs.
    /// </exception>
    /// <exception cref="SecretTooLargeException">The data is over <see cref="TrousseauLimits.MaxSecretDataBytes"/>.</exception>
    ValueTask<SecretMetadata> CreateSecretAsync(
        string name,
        SecretType type,
        IReadOnlyDictionary<string, string> data,
        CancellationToken cancellationToken = default);

    /// <summary>Reads and decrypts a secret.</summary>
    /// <param name="name">The name.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The secret with its data.</returns>
    /// <exception cref="SecretNotFoundException">There is no such secret.</exception>
    /// <exception cref="InvalidCiphertextException">The stored record does not decrypt (damaged, or sealed under another key).</exception>
    ValueTask<Secret> GetSecretAsync(string name, CancellationToken cancellationToken = default);

    /// <summary>Replaces a secret's data (and optionally its type).</summary>
    /// <param name="name">The name of an existing secret.</param>
    /// <param name="data">The new data; replaces the old data whole.</param>
    /// <param name="type">The new type, or <see langword="null"/> to keep the current one.</param>
    /// <param name="expectedRevision">
    /// When set, the write happens only if the secret is still at this revision; otherwise it fails with
    /// <see cref="SecretConflictReason.RevisionMismatch"/>. Without it, the write applies to any revision: a concurrent
    /// write makes it read the secret again and retry, as often as others write first, so it never fails with a conflict.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The secret's new metadata.</returns>
    /// <exception cref="SecretNotFoundException">There is no such secret.</exception>
    /// <exception cref="SecretConflictException">
    /// The secret is no longer at <paramref name="expectedRevision"/> (<see cref="SecretConflictReason.RevisionMismatch"/>).
    /// </exception>
    /// <exception cref="InvalidInputException">The data is empty, has a bad key, or does not suit the type.</exception>
    /// <exception cref="SecretTooLargeException">The data is over <see cref="TrousseauLimits.MaxSecretDataBytes"/>.</exception>
    ValueTask<SecretMetadata> UpdateSecretAsync(
        string name,
        IReadOnlyDictionary<string, string> data,
        SecretType? type = null,
        long? expectedRevision = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Changes some keys of a secret's data and keeps the others, as a JSON merge patch (RFC 7396) of the data does:
    /// the merge happens here, by compare-and-swap on the stored record, so the caller never reads the values it keeps.
    /// </summary>
    /// <param name="name">The name of an existing secret.</param>
    /// <param name="changes">
    /// At least one data key: a key with a value sets that value, a key with <see langword="null"/> removes the key
    /// (removing a key the secret does not hold changes nothing, and the result names it). A patch that changes no
    /// value writes nothing, and the secret keeps its revision. The merged data must still obey the secret type's
    /// rules (a login secret keeps a non-empty <c>username</c> and <c>password</c>) and
    /// <see cref="TrousseauLimits.MaxSecretDataBytes"/>.
    /// </param>
    /// <param name="expectedRevision">
    /// When set, the write happens only if the secret is still at this revision; otherwise it fails with
    /// <see cref="SecretConflictReason.RevisionMismatch"/>. Without it, a concurrent write makes the merge start again
    /// from the new data, as often as others write first, so no change is lost and the patch never fails with a conflict.
    /// </param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>
    /// The secret's new metadata (its metadata as it was, when the patch changes no value), with the keys the patch
    /// removed that the secret did not hold (<see cref="SecretPatchResult.AbsentKeys"/>).
    /// </returns>
    /// <exception cref="SecretNotFoundException">There is no such secret.</exception>
    /// <exception cref="InvalidInputException">No data key, a bad key, or merged data the type does not allow.</exception>
    /// <exception cref="SecretTooLargeException">The merged data is over <see cref="TrousseauLimits.MaxSecretDataBytes"/>.</exception>
    ValueTask<SecretPatchResult> PatchSecretAsync(
        string name,
        IReadOnlyDictionary<string, string?> changes,
        long? expectedRevision = null,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces one value of an existing secret with a new one made here, with a cryptographic random number
    /// generator, and keeps every other key: the new value never leaves this implementation unless the secret is read.
    /// </summary>
    /// <param name="name">The name of an existing secret.</param>
    /// <param name="options">
    /// Which key (by default a login secret's <c>password</c>, or an opaque secret's only key), length and alphabet;
    /// defaults when <see langword="null"/>.
    /// </param>
    /// <param name="expectedRevision">When set, the write happens only if the secret is still at this revision.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The secret's new metadata (not its value).</returns>
    /// <exception cref="SecretNotFoundException">There is no such secret.</exception>
    /// <exception cref="InvalidInputException">
    /// The key is not one of the secret's (or not <c>password</c> for a login secret), no key is given for an opaque
    /// secret with several, or the length or alphabet is out of range.
    /// </exception>
    ValueTask<SecretMetadata> RegenerateSecretAsync(
        string name,
        SecretRegenerationOptions? options = null,
        long? expectedRevision = null,
        CancellationToken cancellationToken = default);

    /// <summary>Deletes a secret.</summary>
    /// <param name="name">The name of an existing secret.</param>
    /// <param name="expectedRevision">When set, deletes only if the secret is still at this revision.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <exception cref="SecretNotFoundException">There is no such secret.</exception>
    /// <exception cref="SecretConflictException">
    /// The secret is no longer at <paramref name="expectedRevision"/> (<see cref="SecretConflictReason.RevisionMismatch"/>).
    /// </exception>
    ValueTask DeleteSecretAsync(string name, long? expectedRevision = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists secrets whose names start with a prefix, in name order. Returns metadata only, never values. Reads one
    /// page of <see cref="TrousseauLimits.DefaultListPageSize"/> at a time as the enumeration goes, so memory stays
    /// bounded however many secrets there are; see <see cref="ListSecretsPageAsync"/> for what a change made during
    /// the listing does.
    /// </summary>
    /// <param name="prefix">The name prefix; empty lists every secret.</param>
    /// <param name="cancellationToken">Cancels the enumeration.</param>
    /// <returns>The secrets' metadata.</returns>
    /// <exception cref="InvalidInputException">The prefix cannot start a secret name.</exception>
    IAsyncEnumerable<SecretMetadata> ListSecretsAsync(string prefix = "", CancellationToken cancellationToken = default);

    /// <summary>
    /// Lists one page of the secrets whose names start with a prefix, in name order: metadata only, never values.
    /// Give each page's <see cref="SecretPage.ContinuationToken"/> back for the next one. A page may hold fewer than
    /// <paramref name="limit"/> items. Each page is read as the store is when it is asked for: a secret that exists
    /// from the first page to the last is listed exactly once; one created or deleted meanwhile may or may not be.
    /// </summary>
    /// <param name="prefix">The name prefix; empty lists every secret.</param>
    /// <param name="continuationToken">The previous page's token, or <see langword="null"/> for the first page.</param>
    /// <param name="limit">The most items the page holds: 1 to <see cref="TrousseauLimits.MaxListPageSize"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The page.</returns>
    /// <exception cref="InvalidInputException">
    /// The prefix cannot start a secret name, the limit is out of range, or the token is not one this listing gave.
    /// </exception>
    ValueTask<SecretPage> ListSecretsPageAsync(
        string prefix = "",
        string? continuationToken = null,
        int limit = TrousseauLimits.DefaultListPageSize,
        CancellationToken cancellationToken = default);

    /// <summary>
    /// Creates a secret whose value is made here, with a cryptographic random number generator, so that the caller
    /// never sees it unless it reads the secret later.
    /// </summary>
    /// <param name="name">The name; fails with a conflict if it is taken.</param>
    /// <param name="options">Type, key, length and alphabet; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new secret's metadata (not its value).</returns>
    /// <exception cref="SecretConflictException">The name is taken (<see cref="SecretConflictReason.AlreadyExists"/>).</exception>
    /// <exception cref="InvalidInputException">
    /// The name is not a secret name, a login secret has no user name, or the key, length or alphabet is out of range.
    /// </exception>
    ValueTask<SecretMetadata> GenerateSecretAsync(
        string name,
        SecretGenerationOptions? options = null,
        CancellationToken cancellationToken = default);
}
