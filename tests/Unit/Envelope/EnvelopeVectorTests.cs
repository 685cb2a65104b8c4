using System.Text;
using Trousseau.Envelope;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Envelope;

/// <summary>
/// Known-answer tests: the envelopes below were computed outside this code base (Python's <c>cryptography</c>
/// AES-GCM over the layout of docs/envelope.md), so a change to the format or the cipher use shows here. The format 2
/// vector is what this build writes; the format 1 vector is what earlier builds wrote, which must stay readable.
/// </summary>
public sealed class EnvelopeVectorTests
{
    private const string VectorHex =
        "5452530201010474657374000a746573742d6b65792d31000000010010575241505045442d44454b2d30303031"
        + "000102030405060708090a0b"
        + "aece02d147885ee0e9f0b0ab9e27d0e6327386f4f961d037933f3fe753f90498ad82fc30cc";

    private const string Format1VectorHex =
        "54525301010474657374000a746573742d6b65792d31000000010010575241505045442d44454b2d30303031"
        + "000102030405060708090a0b"
        + "aece02d147885ee0e9f0b0ab9e27d0e6327386f4f9a5936b08a14e3d2684503c30b66c8be9";

    private static readonly byte[] Vector = Convert.FromHexString(VectorHex);
    private static readonly byte[] Format1Vector = Convert.FromHexString(Format1VectorHex);
    private static readonly byte[] Context = "ctx"u8.ToArray();
    private static readonly byte[] Wrapped = "WRAPPED-DEK-0001"u8.ToArray();
    private static readonly byte[] DataKeyBytes = Enumerable.Range(0x10, 32).Select(b => (byte)b).ToArray();

    /// <summary>What the provider unwraps for a format 2 encrypt/decrypt envelope: the purpose's label, then the data key.</summary>
    private static readonly byte[] LabelledDataKey = [.. "trousseau/api\0"u8, .. DataKeyBytes];

    internal static IKeyProvider VectorProvider() =>
        new FixedKeyProvider("test", new KeyInfo("test-key-1", 1), Wrapped, LabelledDataKey);

    /// <summary>The provider of the format 1 vector, which wrapped the bare data key.</summary>
    internal static IKeyProvider Format1VectorProvider() =>
        new FixedKeyProvider("test", new KeyInfo("test-key-1", 1), Wrapped, DataKeyBytes);

    /// <summary>A provider that hands out the vector's data key for any wrapped bytes (see <see cref="HeaderBlindKeyProvider"/>).</summary>
    internal static HeaderBlindKeyProvider HeaderBlindVectorProvider() =>
        new("test", new KeyInfo("test-key-1", 1), LabelledDataKey);

    internal static byte[] VectorEnvelope() => Vector.ToArray();

    internal static byte[] Format1VectorEnvelope() => Format1Vector.ToArray();

    internal static byte[] VectorContext() => Context.ToArray();

    [Fact]
    public async Task The_test_vector_decrypts_to_its_plaintext()
    {
        using var encryptor = KeyRings.Encryptor(VectorProvider());

        var plaintext = await encryptor.DecryptAsync(EnvelopePurpose.Api, Vector, Context, default);

        Assert.Equal("trousseau test vector", Encoding.UTF8.GetString(plaintext));
    }

    [Fact]
    public async Task The_format_1_test_vector_written_before_purposes_still_decrypts()
    {
        using var encryptor = KeyRings.Encryptor(Format1VectorProvider());

        var plaintext = await encryptor.DecryptAsync(EnvelopePurpose.Api, Format1Vector, Context, default);

        Assert.Equal("trousseau test vector", Encoding.UTF8.GetString(plaintext));
    }

    [Fact]
    public void The_header_written_for_a_data_key_matches_the_vector()
    {
        var prefix = EnvelopeFormat.BuildPrefix(EnvelopePurpose.Api, "test", "test-key-1", 1, Wrapped);

        Assert.Equal(Vector.AsSpan(0, prefix.Length).ToArray(), prefix);
        Assert.Equal(57, prefix.Length + EnvelopeFormat.NonceSize);
    }

    [Fact]
    public void Parsing_the_vectors_finds_each_field()
    {
        var layout = EnvelopeFormat.Parse(Vector);
        var format1 = EnvelopeFormat.Parse(Format1Vector);

        Assert.Equal(EnvelopePurpose.Api, layout.Purpose);
        Assert.Equal("test", Encoding.ASCII.GetString(Vector[layout.Provider]));
        Assert.Equal("test-key-1", Encoding.UTF8.GetString(Vector[layout.KeyId]));
        Assert.Equal(1u, layout.KeyVersion);
        Assert.Equal(Wrapped, Vector[layout.Wrapped]);
        Assert.Equal(57, layout.HeaderLength);
        Assert.Equal(EnvelopePurpose.Unlabelled, format1.Purpose);
        Assert.Equal(Wrapped, Format1Vector[format1.Wrapped]);
        Assert.Equal(56, format1.HeaderLength);
    }
}
