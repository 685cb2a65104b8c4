using System.Text;
using Trousseau.Envelope;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Envelope;

/// <summary>
/// A known-answer test: the envelope below was computed outside this code base (Python's <c>cryptography</c>
/// AES-GCM over the layout of docs/envelope.md), so a change to the format or the cipher use shows here.
/// </summary>
public sealed class EnvelopeVectorTests
{
    private const string VectorHex =
        "54525301010474657374000a746573742d6b65792d31000000010010575241505045442d44454b2d30303031"
        + "000102030405060708090a0b"
        + "aece02d147885ee0e9f0b0ab9e27d0e6327386f4f9a5936b08a14e3d2684503c30b66c8be9";

    private static readonly byte[] Vector = Convert.FromHexString(VectorHex);
    private static readonly byte[] Context = "ctx"u8.ToArray();
    private static readonly byte[] Wrapped = "WRAPPED-DEK-0001"u8.ToArray();
    private static readonly byte[] DataKeyBytes = Enumerable.Range(0x10, 32).Select(b => (byte)b).ToArray();

    internal static IKeyProvider VectorProvider() =>
        new FixedKeyProvider("test", new KeyInfo("test-key-1", 1), Wrapped, DataKeyBytes);

    /// <summary>A provider that hands out the vector's data key for any wrapped bytes (see <see cref="HeaderBlindKeyProvider"/>).</summary>
    internal static HeaderBlindKeyProvider HeaderBlindVectorProvider() =>
        new("test", new KeyInfo("test-key-1", 1), DataKeyBytes);

    internal static byte[] VectorEnvelope() => Vector.ToArray();

    internal static byte[] VectorContext() => Context.ToArray();

    [Fact]
    public async Task The_test_vector_decrypts_to_its_plaintext()
    {
        using var encryptor = KeyRings.Encryptor(VectorProvider());

        var plaintext = await encryptor.DecryptAsync(Vector, Context, default);

        Assert.Equal("trousseau test vector", Encoding.UTF8.GetString(plaintext));
    }

    [Fact]
    public void The_header_written_for_a_data_key_matches_the_vector()
    {
        var prefix = EnvelopeFormat.BuildPrefix("test", "test-key-1", 1, Wrapped);

        Assert.Equal(Vector.AsSpan(0, prefix.Length).ToArray(), prefix);
        Assert.Equal(56, prefix.Length + EnvelopeFormat.NonceSize);
    }

    [Fact]
    public void Parsing_the_vector_finds_each_field()
    {
        var layout = EnvelopeFormat.Parse(Vector);

        Assert.Equal("test", Encoding.ASCII.GetString(Vector[layout.Provider]));
        Assert.Equal("test-key-1", Encoding.UTF8.GetString(Vector[layout.KeyId]));
        Assert.Equal(1u, layout.KeyVersion);
        Assert.Equal(Wrapped, Vector[layout.Wrapped]);
        Assert.Equal(56, layout.HeaderLength);
    }
}
