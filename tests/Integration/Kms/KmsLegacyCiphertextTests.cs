using System.Buffers.Binary;
using System.Security.Cryptography;
using Google.Protobuf;
using Microsoft.Extensions.Options;
using Trousseau.Kms;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// The plugin over a local key ring, called in process: what it writes carries its purpose label, and what was written
/// before the label (formats 1 and 2) decrypts only while <c>Trousseau:Kms:AcceptLegacyCiphertext</c> allows it.
/// </summary>
public sealed class KmsLegacyCiphertextTests : IDisposable
{
    private static readonly byte[] Seed = RandomNumberGenerator.GetBytes(32);
    private readonly TempDirectory _temp = new();
    private readonly LocalKeyRingProvider _ring;

    public KmsLegacyCiphertextTests() =>
        _ring = new LocalKeyRingProvider(Options.Create(new LocalKeyRingOptions { KeyFile = _temp.Combine("ring.json") }), TimeProvider.System);

    public void Dispose()
    {
        _ring.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task Legacy_ciphertexts_are_refused_once_accepting_them_is_turned_off_and_new_ones_still_round_trip()
    {
        var plugin = Plugin(acceptLegacy: false);
        var legacy = await LegacyV2Async();

        var refused = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await plugin.DecryptAsync(legacy, default));
        var encrypted = await plugin.EncryptAsync(new Trousseau.Kms.V2.EncryptRequest { Plaintext = ByteString.CopyFrom(Seed) }, default);
        var decrypted = await plugin.DecryptAsync(new Trousseau.Kms.V2.DecryptRequest { Ciphertext = encrypted.Ciphertext, KeyId = encrypted.KeyId }, default);

        Assert.Contains("not wrapped by this KMS plugin", refused.Message, StringComparison.Ordinal);
        Assert.Contains("Trousseau:Kms:AcceptLegacyCiphertext is false", refused.Message, StringComparison.Ordinal);
        Assert.Equal(3, encrypted.Ciphertext[0]);
        Assert.Equal(Seed, decrypted.Plaintext.ToByteArray());
    }

    [Fact]
    public async Task Legacy_ciphertexts_decrypt_by_default_unless_they_hold_a_trousseau_data_key()
    {
        var plugin = Plugin(acceptLegacy: true);
        var wrappedDataKey = await _ring.WrapAsync((byte[])[.. "trousseau/store\0"u8, .. RandomNumberGenerator.GetBytes(32)]);

        var decrypted = await plugin.DecryptAsync(await LegacyV2Async(), default);
        var refused = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await plugin.DecryptAsync(V2Request(wrappedDataKey), default));

        Assert.Equal(Seed, decrypted.Plaintext.ToByteArray());
        Assert.Contains("not wrapped by this KMS plugin", refused.Message, StringComparison.Ordinal);
    }

    private KmsPlugin Plugin(bool acceptLegacy) =>
        new(_ring, Options.Create(new KmsOptions { AcceptLegacyCiphertext = acceptLegacy }), TimeProvider.System);

    /// <summary>A KMS v2 ciphertext as the plugin wrote it before its wraps carried a purpose: format 1, the bare seed wrapped.</summary>
    private async Task<Trousseau.Kms.V2.DecryptRequest> LegacyV2Async() => V2Request(await _ring.WrapAsync(Seed));

    private static Trousseau.Kms.V2.DecryptRequest V2Request(WrappedKey wrapped)
    {
        var ciphertext = new byte[5 + wrapped.Ciphertext.Length];
        ciphertext[0] = 1;
        BinaryPrimitives.WriteUInt32BigEndian(ciphertext.AsSpan(1), wrapped.KeyVersion);
        wrapped.Ciphertext.Span.CopyTo(ciphertext.AsSpan(5));
        return new Trousseau.Kms.V2.DecryptRequest { Ciphertext = ByteString.CopyFrom(ciphertext), KeyId = wrapped.KeyId };
    }
}
