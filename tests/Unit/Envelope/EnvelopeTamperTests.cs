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
}
