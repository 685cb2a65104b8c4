namespace Trousseau;

/// <summary>Bytes wrapped by a key provider, with the key that wrapped them.</summary>
/// <param name="KeyId">The wrapping key's id.</param>
/// <param name="KeyVersion">The wrapping key's version.</param>
/// <param name="Ciphertext">The wrapped bytes, in the provider's own format.</param>
public sealed record WrappedKey(string KeyId, uint KeyVersion, ReadOnlyMemory<byte> Ciphertext);
