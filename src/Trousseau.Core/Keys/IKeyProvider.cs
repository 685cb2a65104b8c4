namespace Trousseau;

/// <summary>
/// A key-encryption-key holder: wraps and unwraps small secrets (data keys, and the DEKs kube-apiserver sends)
/// without ever handing out its own key. Implementations: the local key ring, Vault Transit.
/// </summary>
public interface IKeyProvider
{
    /// <summary>The provider's id, written into every envelope, for example <c>local</c> or <c>vault</c>.</summary>
    string Name { get; }

    /// <summary>
    /// Returns the key that <see cref="WrapAsync"/> uses now, as the provider knows it: a rotation made outside this
    /// process may show only later (see <see cref="RefreshCurrentKeyAsync"/>).
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The current key's id and version.</returns>
    ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Returns the key that <see cref="WrapAsync"/> uses from now on, asked of where the key lives (Vault, the key
    /// ring file) instead of answered from what the provider remembers, which may predate a rotation made outside this
    /// process; what the provider remembers is brought up to date. For key status, rewrap and the background worker,
    /// not for each call. A provider that remembers nothing keeps the default, <see cref="GetCurrentKeyAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The current key's id and version.</returns>
    ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default) => GetCurrentKeyAsync(cancellationToken);

    /// <summary>Encrypts <paramref name="plaintext"/> under the current key.</summary>
    /// <param name="plaintext">A small secret, such as a 32-byte data key.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The wrapped bytes and the key that wrapped them.</returns>
    ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default);

    /// <summary>Decrypts what <see cref="WrapAsync"/> returned, under whichever key version made it.</summary>
    /// <param name="wrapped">The wrapped bytes and the key that wrapped them.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The plaintext; the caller owns it and should zero it after use.</returns>
    /// <exception cref="InvalidCiphertextException">Unknown key id or version, or tampered bytes.</exception>
    ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default);

    /// <summary>Makes a new key version current; older versions stay usable for unwrapping.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The new current key.</returns>
    ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default);

    /// <summary>Checks whether the provider can wrap and unwrap now.</summary>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The provider's health.</returns>
    ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default);
}
