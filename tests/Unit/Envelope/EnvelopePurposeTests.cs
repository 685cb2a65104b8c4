using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Trousseau.Envelope;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Envelope;

/// <summary>
/// Each purpose (encrypt/decrypt, stored records, Data Protection keys) has its own data keys, and an envelope opens
/// only for the purpose it was made for; envelopes written before purposes (format 1) stay readable where they were
/// Trousseau's own, and through decrypt unless they are a record or a key ring element.
/// </summary>
public sealed class EnvelopePurposeTests : IDisposable
{
    private readonly LocalTrousseau _local = new();

    public void Dispose() => _local.Dispose();

    private EnvelopeEncryptor Encryptor => _local.Services.GetRequiredService<EnvelopeEncryptor>();

    private DataProtectionKeyEncryptor KeyRingEncryptor => _local.Services.GetRequiredService<DataProtectionKeyEncryptor>();

    [Theory]
    [InlineData(1, 2)]
    [InlineData(1, 3)]
    [InlineData(2, 1)]
    [InlineData(2, 3)]
    [InlineData(3, 1)]
    [InlineData(3, 2)]
    public async Task An_envelope_opens_only_for_the_purpose_it_was_made_for(byte made, byte opened)
    {
        var (madeFor, openedFor) = ((EnvelopePurpose)made, (EnvelopePurpose)opened);
        var envelope = (await Encryptor.EncryptAsync(madeFor, "value"u8.ToArray(), "ctx"u8.ToArray(), default)).Ciphertext;

        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Encryptor.DecryptAsync(openedFor, envelope, "ctx"u8.ToArray(), default));

        Assert.Contains($"made for {EnvelopePurposes.Describe(madeFor)}, not for {EnvelopePurposes.Describe(openedFor)}", error.Message, StringComparison.Ordinal);
        Assert.Equal("value", Encoding.UTF8.GetString(await Encryptor.DecryptAsync(madeFor, envelope, "ctx"u8.ToArray(), default)));
    }

    [Fact]
    public async Task Each_purpose_encrypts_under_a_data_key_of_its_own()
    {
        var wrappedKeys = new List<byte[]>();
        foreach (var purpose in new[] { EnvelopePurpose.Api, EnvelopePurpose.Store, EnvelopePurpose.DataProtection })
        {
            var envelope = (await Encryptor.EncryptAsync(purpose, "value"u8.ToArray(), default, default)).Ciphertext;
            wrappedKeys.Add(envelope[EnvelopeFormat.Parse(envelope).Wrapped]);
        }

        Assert.Equal(3, wrappedKeys.Select(Convert.ToHexString).Distinct().Count());
    }

    [Fact]
    public async Task A_header_relabelled_to_another_purpose_is_refused_because_its_data_key_is_not_of_that_purpose()
    {
        var record = (await Encryptor.EncryptAsync(EnvelopePurpose.Store, "record"u8.ToArray(), default, default)).Ciphertext;
        record[5] = (byte)EnvelopePurpose.Api;

        // A fresh process: the key is unwrapped, not found in a cache.
        using var other = new LocalTrousseauSharing(_local);
        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await other.Encryptor.DecryptAsync(EnvelopePurpose.Api, record, default, default));

        Assert.Contains("not wrapped for the purpose the envelope names", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_header_relabelled_to_another_purpose_is_refused_by_the_process_that_holds_its_data_key_too()
    {
        var record = (await Encryptor.EncryptAsync(EnvelopePurpose.Store, "record"u8.ToArray(), default, default)).Ciphertext;
        record[5] = (byte)EnvelopePurpose.Api;

        // The process that wrote it: the data key is found in its cache, unwrapped for the stored records.
        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await Encryptor.DecryptAsync(EnvelopePurpose.Api, record, default, default));

        Assert.Equal("The ciphertext cannot be decrypted: its data key was wrapped for another purpose than the envelope names.", error.Message);
    }

    [Fact]
    public async Task The_data_protection_encryptor_round_trips_and_decrypt_never_opens_its_envelopes()
    {
        var element = (await KeyRingEncryptor.EncryptAsync("<key/>"u8.ToArray())).Ciphertext;

        Assert.Equal("<key/>", Encoding.UTF8.GetString(await KeyRingEncryptor.DecryptAsync(element)));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await _local.Trousseau.DecryptAsync(element, DataProtectionKeyEncryptor.Context));
    }

    [Fact]
    public async Task A_format_1_record_is_still_read_refused_by_decrypt_and_moved_to_format_2_by_a_rewrap()
    {
        var header = SecretRecord.BuildHeader(SecretType.Opaque, DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);
        var data = SecretRecord.EncodeData(new Dictionary<string, string> { ["password"] = "old" });
        var context = SecretRecord.AssociatedData("legacy/record", header);
        var envelope = await Format1.SealAsync(_local.Services.GetRequiredService<IKeyProvider>(), data, context);
        await _local.Store.CreateAsync("legacy/record", (byte[])[.. header, .. envelope]);

        var secret = await _local.Trousseau.GetSecretAsync("legacy/record");
        var refused = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await _local.Trousseau.DecryptAsync(envelope, context));
        var rewrapped = (await _local.Keys.RewrapSecretsAsync()).Rewrapped;
        var stored = (await _local.Store.GetAsync("legacy/record"))!.Value.ToArray();

        Assert.Equal("old", secret.Data["password"]);
        Assert.Contains("format 1 envelope whose context is that of a stored secret record", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, rewrapped);
        Assert.Equal(EnvelopePurpose.Store, EnvelopeFormat.Parse(stored.AsSpan(header.Length + 8)).Purpose);
        Assert.Equal("old", (await _local.Trousseau.GetSecretAsync("legacy/record")).Data["password"]);
    }

    [Fact]
    public async Task A_format_1_key_ring_element_is_still_read_by_data_protection_and_refused_by_decrypt()
    {
        var envelope = await Format1.SealAsync(_local.Services.GetRequiredService<IKeyProvider>(), "<key/>"u8.ToArray(), DataProtectionKeyEncryptor.Context.ToArray());

        Assert.Equal("<key/>", Encoding.UTF8.GetString(await KeyRingEncryptor.DecryptAsync(envelope)));
        await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await _local.Trousseau.DecryptAsync(envelope, DataProtectionKeyEncryptor.Context));
    }

    [Theory]
    [InlineData("")]
    [InlineData("tenant-a")]
    public async Task A_format_1_envelope_of_encrypt_still_decrypts_with_its_context(string context)
    {
        var bytes = Encoding.UTF8.GetBytes(context);
        var envelope = await Format1.SealAsync(_local.Services.GetRequiredService<IKeyProvider>(), "api data"u8.ToArray(), bytes);

        Assert.Equal("api data", Encoding.UTF8.GetString(await _local.Trousseau.DecryptAsync(envelope, bytes)));
    }

    [Fact]
    public async Task A_format_1_envelope_whose_data_key_carries_a_purpose_label_is_refused()
    {
        var provider = _local.Services.GetRequiredService<IKeyProvider>();
        var envelope = await Format1.SealAsync(provider, "x"u8.ToArray(), ReadOnlyMemory<byte>.Empty, label: "trousseau/store\0"u8.ToArray());

        var error = await Assert.ThrowsAsync<InvalidCiphertextException>(async () => await _local.Trousseau.DecryptAsync(envelope));

        Assert.Contains("wrapped for a purpose", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A second library instance on the same key ring file, as another process would be.</summary>
    private sealed class LocalTrousseauSharing : IDisposable
    {
        private readonly ServiceProvider _services;

        public LocalTrousseauSharing(LocalTrousseau local)
        {
            var keyFile = local.Services.GetRequiredService<IOptions<LocalKeyRingOptions>>().Value.KeyFile;
            var services = new ServiceCollection();
            services.AddTrousseau(_ => { }).UseLocalKeyRing(ring => ring.KeyFile = keyFile).UseInMemoryStore();
            _services = services.BuildServiceProvider();
        }

        public EnvelopeEncryptor Encryptor => _services.GetRequiredService<EnvelopeEncryptor>();

        public void Dispose() => _services.Dispose();
    }

    /// <summary>Writes format 1 envelopes as builds before purposes did (docs/envelope.md): the bare data key wrapped, no purpose byte.</summary>
    private static class Format1
    {
        public static async Task<byte[]> SealAsync(IKeyProvider provider, byte[] plaintext, ReadOnlyMemory<byte> context, byte[]? label = null)
        {
            var dataKey = RandomNumberGenerator.GetBytes(32);
            var wrapped = await provider.WrapAsync((byte[])[.. label ?? [], .. dataKey]);
            var providerName = Encoding.ASCII.GetBytes(provider.Name);
            var keyId = Encoding.UTF8.GetBytes(wrapped.KeyId);
            var wrappedBytes = wrapped.Ciphertext.ToArray();
            var header = new List<byte>([.. "TRS"u8, 1, 1, (byte)providerName.Length, .. providerName]);
            header.AddRange(BigEndian16(keyId.Length));
            header.AddRange(keyId);
            var version = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(version, wrapped.KeyVersion);
            header.AddRange(version);
            header.AddRange(BigEndian16(wrappedBytes.Length));
            header.AddRange(wrappedBytes);
            header.AddRange(RandomNumberGenerator.GetBytes(12));
            var headerBytes = header.ToArray();

            var ciphertext = new byte[plaintext.Length];
            var tag = new byte[16];
            using var aes = new AesGcm(dataKey, 16);
            byte[] associatedData = [.. headerBytes, .. context.Span];
            aes.Encrypt(headerBytes[^12..], plaintext, ciphertext, tag, associatedData);
            return [.. headerBytes, .. ciphertext, .. tag];
        }

        private static byte[] BigEndian16(int value)
        {
            var bytes = new byte[2];
            BinaryPrimitives.WriteUInt16BigEndian(bytes, (ushort)value);
            return bytes;
        }
    }
}
