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
    private readonly IKeyProvider _provider;

    internal DataProtectionKeyEncryptor(EnvelopeEncryptor encryptor, IKeyProvider provider)
    {
        _encryptor = encryptor;
        _provider = provider;
    }

    /// <summary>
    /// The associated data of every key ring element's envelope. It is also the context an application that reaches
    /// Trousseau over HTTP gives to <c>/v1/encrypt</c> for its key ring elements.
    /// </summary>
    public static ReadOnlyMemory<byte> Context { get; } = "Microsoft.AspNetCore.DataProtection key ring"u8.ToArray();

    /// <summary>
    /// Encrypts one key ring element under the key provider's current key, asked of where the key lives (Vault, the key
    /// ring file): an element is encrypted once, when Data Protection makes its key, and never again, so one sealed
    /// under a data key that an older key wrapped (the key rotated outside this process) is sealed again under a new
    /// data key. When the key provider cannot be asked, the data key held seals it.
    /// </summary>
    /// <param name="plaintext">The element's XML, as UTF-8.</param>
    /// <param name="cancellationToken">Cancels the call.</param>
    /// <returns>The envelope and the provider, key id and key version that protect it.</returns>
    public async ValueTask<EncryptResult> EncryptAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default)
    {
        var result = await _encryptor.EncryptAsync(EnvelopePurpose.DataProtection, plaintext, Context, cancellationToken).ConfigureAwait(false);
        KeyInfo current;
        try
        {
            current = await _provider.RefreshCurrentKeyAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (DependencyUnavailableException)
        {
            return result;
        }

        if (current.KeyId == result.KeyId)
        {
            return result;
        }

        _encryptor.RetireUnlessWrappedBy(current.KeyId);
        return await _encryptor.EncryptAsync(EnvelopePurpose.DataProtection, plaintext, Context, cancellationToken).ConfigureAwait(false);
    }

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
