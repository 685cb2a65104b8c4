using System.Buffers.Binary;
using System.Text;

namespace Trousseau.Envelope;

/// <summary>
/// Reads and writes the envelope byte layout, documented in docs/envelope.md: writes format version 2, whose header
/// names the envelope's purpose, and reads format 1 too, which has no purpose byte.
/// </summary>
internal static class EnvelopeFormat
{
    public const byte Version1 = 1;
    public const byte Version2 = 2;
    public const byte AlgorithmAes256Gcm = 1;
    public const int NonceSize = 12;
    public const int TagSize = 16;
    public const int KeySize = 32;
    public const int MaxProviderLength = 64;
    public const int MaxKeyIdLength = 1024;
    public const int MaxWrappedLength = 4096;

    // "TRS": the magic that opens every envelope.
    private static ReadOnlySpan<byte> Magic => "TRS"u8;

    /// <summary>Builds the fixed part of the header that precedes the nonce (format 2), for one data key of one purpose.</summary>
    public static byte[] BuildPrefix(EnvelopePurpose purpose, string provider, string keyId, uint keyVersion, ReadOnlySpan<byte> wrapped)
    {
        if (!EnvelopePurposes.IsLabelled((byte)purpose))
        {
            throw new ArgumentOutOfRangeException(nameof(purpose), purpose, "Envelopes are written for a purpose.");
        }

        var providerLength = Encoding.ASCII.GetByteCount(provider);
        var keyIdLength = Encoding.UTF8.GetByteCount(keyId);
        if (providerLength is 0 or > MaxProviderLength)
        {
            throw new ArgumentException($"Provider id must be 1 to {MaxProviderLength} ASCII bytes.", nameof(provider));
        }

        if (keyIdLength is 0 or > MaxKeyIdLength)
        {
            throw new ArgumentException($"Key id must be 1 to {MaxKeyIdLength} bytes.", nameof(keyId));
        }

        if (wrapped.Length is 0 or > MaxWrappedLength)
        {
            throw new ArgumentException($"Wrapped key must be 1 to {MaxWrappedLength} bytes.", nameof(wrapped));
        }

        var prefix = new byte[Magic.Length + 3 + 1 + providerLength + 2 + keyIdLength + 4 + 2 + wrapped.Length];
        var span = prefix.AsSpan();
        Magic.CopyTo(span);
        span[3] = Version2;
        span[4] = AlgorithmAes256Gcm;
        span[5] = (byte)purpose;
        span[6] = (byte)providerLength;
        var offset = 7 + Encoding.ASCII.GetBytes(provider, span[7..]);
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], (ushort)keyIdLength);
        offset += 2;
        offset += Encoding.UTF8.GetBytes(keyId, span[offset..]);
        BinaryPrimitives.WriteUInt32BigEndian(span[offset..], keyVersion);
        offset += 4;
        BinaryPrimitives.WriteUInt16BigEndian(span[offset..], (ushort)wrapped.Length);
        offset += 2;
        wrapped.CopyTo(span[offset..]);
        return prefix;
    }

    /// <summary>Parses an envelope's layout, checking every length; throws <see cref="InvalidCiphertextException"/>.</summary>
    public static EnvelopeLayout Parse(ReadOnlySpan<byte> envelope)
    {
        if (envelope.Length < Magic.Length + 2 || !envelope.StartsWith(Magic))
        {
            throw Invalid("it is not a Trousseau envelope");
        }

        if (envelope[3] is not (Version1 or Version2))
        {
            throw Invalid($"envelope format version {envelope[3]} is not supported (this build reads versions {Version1} and {Version2})");
        }

        if (envelope[4] != AlgorithmAes256Gcm)
        {
            throw Invalid($"algorithm {envelope[4]} is not supported");
        }

        var purpose = EnvelopePurpose.Unlabelled;
        var offset = 5;
        if (envelope[3] == Version2)
        {
            if (envelope.Length < 6 || !EnvelopePurposes.IsLabelled(envelope[5]))
            {
                throw Invalid(envelope.Length < 6 ? "it is truncated" : $"purpose {envelope[5]} is not one this build knows");
            }

            purpose = (EnvelopePurpose)envelope[5];
            offset = 6;
        }

        var reader = new LengthReader(envelope, offset);
        var provider = reader.Read(lengthSize: 1, MaxProviderLength, "provider id");
        var keyId = reader.Read(lengthSize: 2, MaxKeyIdLength, "key id");
        var keyVersion = reader.ReadUInt32("key version");
        var wrapped = reader.Read(lengthSize: 2, MaxWrappedLength, "wrapped key");
        var nonceOffset = reader.Offset;
        if (envelope.Length - nonceOffset < NonceSize + TagSize)
        {
            throw Invalid("it is truncated");
        }

        return new EnvelopeLayout(purpose, provider, keyId, keyVersion, wrapped, nonceOffset);
    }

    /// <summary>How every refusal of an envelope begins; what follows is the reason.</summary>
    public const string RefusalPrefix = "The ciphertext cannot be decrypted: ";

    public static InvalidCiphertextException Invalid(string reason, Exception? innerException = null) =>
        new($"{RefusalPrefix}{reason}.", innerException);

    private ref struct LengthReader(ReadOnlySpan<byte> data, int offset)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Offset { get; private set; } = offset;

        public Range Read(int lengthSize, int maxLength, string field)
        {
            if (_data.Length - Offset < lengthSize)
            {
                throw Invalid("it is truncated");
            }

            int length = lengthSize == 1 ? _data[Offset] : BinaryPrimitives.ReadUInt16BigEndian(_data[Offset..]);
            Offset += lengthSize;
            if (length == 0 || length > maxLength)
            {
                throw Invalid($"its {field} length {length} is out of range");
            }

            if (_data.Length - Offset < length)
            {
                throw Invalid("it is truncated");
            }

            var range = new Range(Offset, Offset + length);
            Offset += length;
            return range;
        }

        public uint ReadUInt32(string field)
        {
            if (_data.Length - Offset < 4)
            {
                throw Invalid($"it is truncated in its {field}");
            }

            var value = BinaryPrimitives.ReadUInt32BigEndian(_data[Offset..]);
            Offset += 4;
            return value;
        }
    }
}

/// <summary>An envelope's purpose (<see cref="EnvelopePurpose.Unlabelled"/> in format 1), and where its parts are, as ranges into it.</summary>
internal readonly record struct EnvelopeLayout(EnvelopePurpose Purpose, Range Provider, Range KeyId, uint KeyVersion, Range Wrapped, int NonceOffset)
{
    /// <summary>Length of the authenticated header: everything before the ciphertext, nonce included.</summary>
    public int HeaderLength => NonceOffset + EnvelopeFormat.NonceSize;
}
