using System.Text;
using Trousseau.Envelope;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Envelope;

/// <summary>Every way an envelope can be damaged ends in <see cref="InvalidCiphertextException"/>, never in other errors or wrong plaintext.</summary>
public sealed class EnvelopeTamperTests
{
    [Fact]
    public async Task Every_truncation_is_refused()
    {
        var envelope = EnvelopeVectorTests.VectorEnvelope();
        using var encryptor = KeyRings.Encryptor(EnvelopeVectorTests.HeaderBlindVectorProvider());

        for (var length = 0; length < envelope.Length; length++)
        {
            await Assert.ThrowsAsync<InvalidCiphertextException>(
                async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, envelope.AsMemory(0, length), EnvelopeVectorTests.VectorContext(), default));
        }
    }

    [Fact]
    public async Task Every_single_flipped_bit_is_refused_by_the_encryptor_even_when_the_key_provider_ignores_the_header()
    {
        // The provider hands out the data key whatever the key id, version or wrapped bytes say, so a flip there
        // is refused only if the encryptor authenticates the header itself. The envelope is written here, so that
        // it is the encryptor's own header that is checked.
        using var encryptor = KeyRings.Encryptor(EnvelopeVectorTests.HeaderBlindVectorProvider());
        var envelope = (await encryptor.EncryptAsync(EnvelopePurpose.Api, "trousseau tamper test"u8.ToArray(), EnvelopeVectorTests.VectorContext(), default)).Ciphertext;
        Assert.Equal("trousseau tamper test", Encoding.UTF8.GetString(await encryptor.DecryptAsync(EnvelopePurpose.Api, envelope, EnvelopeVectorTests.VectorContext(), default)));

        for (var bit = 0; bit < envelope.Length * 8; bit++)
        {
            var damaged = envelope.ToArray();
            damaged[bit / 8] ^= (byte)(1 << (bit % 8));

            await Assert.ThrowsAsync<InvalidCiphertextException>(
                async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, damaged, EnvelopeVectorTests.VectorContext(), default));
        }
    }

    [Fact]
    public async Task Bytes_appended_to_an_envelope_are_refused()
    {
        var envelope = EnvelopeVectorTests.VectorEnvelope();
        using var encryptor = KeyRings.Encryptor(EnvelopeVectorTests.VectorProvider());

        await Assert.ThrowsAsync<InvalidCiphertextException>(
            async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, envelope.Append((byte)0).ToArray(), EnvelopeVectorTests.VectorContext(), default));
    }

    [Fact]
    public async Task Another_context_is_refused()
    {
        using var encryptor = KeyRings.Encryptor(EnvelopeVectorTests.VectorProvider());

        await Assert.ThrowsAsync<InvalidCiphertextException>(
            async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, EnvelopeVectorTests.VectorEnvelope(), "ctX"u8.ToArray(), default));
        await Assert.ThrowsAsync<InvalidCiphertextException>(
            async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, EnvelopeVectorTests.VectorEnvelope(), default, default));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(255)]
    public async Task An_unknown_format_version_is_refused_with_a_clear_reason(byte version)
    {
        var envelope = EnvelopeVectorTests.VectorEnvelope();
        envelope[3] = version;
        using var encryptor = KeyRings.Encryptor(EnvelopeVectorTests.VectorProvider());

        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(
            async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, envelope, EnvelopeVectorTests.VectorContext(), default));

        Assert.Contains($"format version {version}", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Garbage_is_refused()
    {
        using var encryptor = KeyRings.Encryptor(EnvelopeVectorTests.VectorProvider());
        var random = new Random(7);

        for (var i = 0; i < 200; i++)
        {
            var garbage = new byte[random.Next(0, 300)];
            random.NextBytes(garbage);
            await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, garbage, default, default));
        }
    }

    [Fact]
    public async Task An_envelope_of_another_provider_is_refused_without_asking_this_provider()
    {
        using var keys = new TempDirectory();
        using var ring = KeyRings.Open(keys.Combine("ring.json"));
        var counting = new CountingKeyProvider(ring);
        using var encryptor = KeyRings.Encryptor(counting);

        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(
            async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, EnvelopeVectorTests.VectorEnvelope(), EnvelopeVectorTests.VectorContext(), default));

        Assert.Equal("The ciphertext cannot be decrypted: it was written by another key provider than 'local' (by 'test').", error.Message);
        Assert.Equal(0, counting.Unwraps);
    }

    [Fact]
    public async Task An_envelope_whose_provider_id_holds_a_control_character_is_refused_naming_it_escaped()
    {
        using var keys = new TempDirectory();
        using var ring = KeyRings.Open(keys.Combine("ring.json"));
        using var encryptor = KeyRings.Encryptor(ring);
        var envelope = EnvelopeVectorTests.VectorEnvelope();
        var provider = envelope.AsSpan().IndexOf("test"u8);
        envelope[provider + 2] = 0x1B;

        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(
            async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, envelope, EnvelopeVectorTests.VectorContext(), default));

        Assert.Equal(@"The ciphertext cannot be decrypted: it was written by another key provider than 'local' (by 'te\u001Bt').", error.Message);
    }

    [Theory]
    [InlineData(0, (byte)'X', "it is not a Trousseau envelope")]
    [InlineData(4, 2, "algorithm 2 is not supported")]
    [InlineData(5, 0, "purpose 0 is not one this build knows")]
    [InlineData(5, 4, "purpose 4 is not one this build knows")]
    public async Task A_header_without_the_magic_or_with_an_unknown_algorithm_or_purpose_is_refused_naming_it_without_asking_the_key_provider(int offset, byte value, string reason)
    {
        var envelope = EnvelopeVectorTests.VectorEnvelope();
        envelope[offset] = value;
        var counting = new CountingKeyProvider(EnvelopeVectorTests.HeaderBlindVectorProvider());
        using var encryptor = KeyRings.Encryptor(counting);

        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(
            async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, envelope, EnvelopeVectorTests.VectorContext(), default));

        Assert.Equal($"The ciphertext cannot be decrypted: {reason}.", error.Message);
        Assert.Equal(0, counting.Unwraps);
    }

    [Theory]
    [InlineData(0, 10, 16, "provider id length 0")]
    [InlineData(65, 10, 16, "provider id length 65")]
    [InlineData(4, 0, 16, "key id length 0")]
    [InlineData(4, 1025, 16, "key id length 1025")]
    [InlineData(4, 10, 0, "wrapped key length 0")]
    [InlineData(4, 10, 4097, "wrapped key length 4097")]
    public async Task A_header_field_empty_or_longer_than_its_limit_is_refused_naming_it_without_asking_the_key_provider(int providerLength, int keyIdLength, int wrappedLength, string field)
    {
        var counting = new CountingKeyProvider(EnvelopeVectorTests.HeaderBlindVectorProvider());
        using var encryptor = KeyRings.Encryptor(counting);

        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(
            async () => await encryptor.DecryptAsync(EnvelopePurpose.Api, Envelope(providerLength, keyIdLength, wrappedLength), EnvelopeVectorTests.VectorContext(), default));

        Assert.Equal($"The ciphertext cannot be decrypted: its {field} is out of range.", error.Message);
        Assert.Equal(0, counting.Unwraps);
    }

    /// <summary>A format 2 encrypt/decrypt envelope of the vector's provider ('test' when 4 long), with fields of the lengths given, a nonce and a tag.</summary>
    private static byte[] Envelope(int providerLength, int keyIdLength, int wrappedLength)
    {
        byte[] provider = providerLength == 4 ? [.. "test"u8] : [.. Enumerable.Repeat((byte)'t', providerLength)];
        return
        [
            .. "TRS"u8, 2, 1, 1,
            (byte)providerLength, .. provider,
            (byte)(keyIdLength >> 8), (byte)keyIdLength, .. Enumerable.Repeat((byte)'k', keyIdLength),
            0, 0, 0, 1,
            (byte)(wrappedLength >> 8), (byte)wrappedLength, .. Enumerable.Repeat((byte)'w', wrappedLength),
            .. new byte[EnvelopeFormat.NonceSize + EnvelopeFormat.TagSize + 8],
        ];
    }

    [Fact]
    public async Task A_key_provider_whose_name_no_envelope_can_hold_is_refused_at_the_first_encrypt_rather_than_sealing_what_no_read_opens()
    {
        var name = new string('p', EnvelopeFormat.MaxProviderLength + 1);
        using var encryptor = KeyRings.Encryptor(new HeaderBlindKeyProvider(name, new KeyInfo("test-key-1", 1), new byte[EnvelopeFormat.KeySize]));

        var error = await Assert.ThrowsAsync<ArgumentException>(
            async () => await encryptor.EncryptAsync(EnvelopePurpose.Api, "value"u8.ToArray(), EnvelopeVectorTests.VectorContext(), default));

        Assert.StartsWith($"Provider id must be 1 to {EnvelopeFormat.MaxProviderLength} ASCII bytes.", error.Message, StringComparison.Ordinal);
    }
}
