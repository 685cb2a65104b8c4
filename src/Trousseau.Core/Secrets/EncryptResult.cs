namespace Trousseau;

/// <summary>The outcome of <see cref="ITrousseau.EncryptAsync"/>: the ciphertext and what produced it.</summary>
/// <param name="Ciphertext">The self-describing envelope; pass it unchanged to <see cref="ITrousseau.DecryptAsync"/>.</param>
/// <param name="Provider">The key provider that wrapped the data key (for example <c>local</c> or <c>vault</c>).</param>
/// <param name="KeyId">The key provider's key id (not secret).</param>
/// <param name="KeyVersion">The version of that key.</param>
public sealed record EncryptResult(byte[] Ciphertext, string Provider, string KeyId, uint KeyVersion);
