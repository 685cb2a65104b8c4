using Trousseau.Envelope;

namespace Trousseau;

/// <summary>
/// Encrypts ASP.NET Core Data Protection key ring elements under a purpose of their own: their data keys and their
/// envelopes are those of Data Protection alone, so neither <see cref="ITrousseau.DecryptAsync"/> nor the HTTP API's
/// <c>/v1/decrypt</c> opens them, whatever context is given. <c>AddTrousseau()</c> registers it, and
/// <c>ProtectKeysWithTrousseau()</c> uses it.
/// </summary>
public sealed class DataProtectionKeyEncryptor
{
    private readonly EnvelopeEncryptor _encryptor;

    internal DataProtectionKeyEncryptor(EnvelopeEncryptor encryptor) => _encryptor = encryptor;

    /// <summary>
    /// The associated data of every key ring element's envelope. It is also the context an application that reaches
    /// Trousseau over HTTP gives to <c>/v1/encrypt</c> for its key ring elements.
    /// </summary>
    public static ReadOnlyMemory<byte> Context { get; } = "Microsoft.AspNetCore.DataProtection key ring"u8.ToArray();

    /// <summary>Encrypts one key ring element.</summary>
    /// <param name="plaintext">The element's XML, as UTF-8.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The envelope and the provider, key id and key version that protect it.</returns>
    public ValueTask<EncryptResult> EncryptAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default) =>
        _encryptor.EncryptAsync(EnvelopePurpose.DataProtection, plaintext, Context, cancellationToken);

    /// <summary>
    /// Decrypts what <see cref="EncryptAsync"/> wrote, and the envelopes of key ring elements written before envelopes
    /// had a purpose (format 1).
    /// </summary>
    /// <param name="ciphertext">The envelope, unchanged.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The element's XML, as UTF-8.</returns>
    /// <exception cref="InvalidCiphertextException">The envelope is malformed, tampered with, or made for another purpose.</exception>
    public ValueTask<byte[]> DecryptAsync(ReadOnlyMemory<byte> ciphertext, CancellationToken cancellationToken = default) =>
        _encryptor.DecryptAsync(EnvelopePurpose.DataProtection, ciphertext, Context, cancellationToken);
}
