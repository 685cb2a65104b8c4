using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace Trousseau;

/// <summary>
/// The stored form of a secret: a small clear header (format, type, timestamps, and in format 2 the revision a
/// rewrap kept) followed by an envelope whose plaintext is the data. The envelope's associated data binds the name
/// and the header, so a record copied to another name, or with its type, times or revision changed, does not
/// decrypt. The header is at most 58 bytes, so it lies within the <see cref="StoreEntryHead"/> a store listing
/// returns. Layout in docs/envelope.md.
/// </summary>
/// <remarks>
/// A write of the data makes a format 1 record: its revision is the store revision of that write. A rewrap gives the
/// record a new store revision without changing the data, so it writes format 2, which carries the revision the
/// data had, and a later rewrap carries it on.
/// </remarks>
internal static class SecretRecord
{
    private const byte FormatVersion = 1;
    private const byte FormatVersionWithRevision = 2;
    private const int MaxTypeLength = 32;

    /// <summary>What the associated data of every record starts with.</summary>
    public static ReadOnlySpan<byte> AadLabel => "trousseau/secret/v1\0"u8;

    /// <summary>Builds the clear header of a record.</summary>
    /// <param name="type">The secret's type.</param>
    /// <param name="createdAt">When the secret was created.</param>
    /// <param name="updatedAt">When its data was last written.</param>
    /// <param name="keptRevision">
    /// <see langword="null"/> when the data is written now (format 1); for a rewrap, the revision the data keeps (format 2).
    /// </param>
    public static byte[] BuildHeader(SecretType type, DateTimeOffset createdAt, DateTimeOffset updatedAt, long? keptRevision = null)
    {
        var typeBytes = Encoding.ASCII.GetBytes(type.Value);
        var header = new byte[2 + typeBytes.Length + 16 + (keptRevision is null ? 0 : 8)];
        header[0] = keptRevision is null ? FormatVersion : FormatVersionWithRevision;
        header[1] = (byte)typeBytes.Length;
        typeBytes.CopyTo(header, 2);
        BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(2 + typeBytes.Length), createdAt.ToUnixTimeMilliseconds());
        BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(10 + typeBytes.Length), updatedAt.ToUnixTimeMilliseconds());
        if (keptRevision is { } revision)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(revision, 1, nameof(keptRevision));
            BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(18 + typeBytes.Length), revision);
        }

        return header;
    }

    /// <summary>The associated data that binds a record to its name and header.</summary>
    public static byte[] AssociatedData(string name, ReadOnlySpan<byte> header)
    {
        var nameLength = Encoding.UTF8.GetByteCount(name);
        var aad = new byte[AadLabel.Length + nameLength + 1 + header.Length];
        AadLabel.CopyTo(aad);
        Encoding.UTF8.GetBytes(name, aad.AsSpan(AadLabel.Length));
        header.CopyTo(aad.AsSpan(AadLabel.Length + nameLength + 1));
        return aad;
    }

    /// <summary>Reads a stored record's header; throws <see cref="InvalidCiphertextException"/> when it is malformed.</summary>
    public static RecordHeader ReadHeader(string name, ReadOnlySpan<byte> record)
    {
        if (record.Length < 2 || record[0] is not (FormatVersion or FormatVersionWithRevision))
        {
            throw Corrupt(name, record.Length < 2 ? "it is truncated" : $"record format {record[0]} is not supported");
        }

        var hasRevision = record[0] == FormatVersionWithRevision;
        var typeLength = record[1];
        var headerLength = 2 + typeLength + 16 + (hasRevision ? 8 : 0);
        if (typeLength is 0 or > MaxTypeLength || record.Length < headerLength)
        {
            throw Corrupt(name, "its header is malformed");
        }

        var type = Encoding.ASCII.GetString(record.Slice(2, typeLength));
        var createdAt = BinaryPrimitives.ReadInt64BigEndian(record[(2 + typeLength)..]);
        var updatedAt = BinaryPrimitives.ReadInt64BigEndian(record[(10 + typeLength)..]);
        long? keptRevision = hasRevision ? BinaryPrimitives.ReadInt64BigEndian(record[(18 + typeLength)..]) : null;
        if (keptRevision < 1)
        {
            throw Corrupt(name, "its revision is not positive");
        }

        try
        {
            return new RecordHeader(
                new SecretType(type),
                DateTimeOffset.FromUnixTimeMilliseconds(createdAt),
                DateTimeOffset.FromUnixTimeMilliseconds(updatedAt),
                keptRevision,
                headerLength);
        }
        catch (ArgumentOutOfRangeException ex)
        {
            throw new InvalidCiphertextException($"The stored record of secret '{name}' is corrupt: its timestamps are out of range.", ex);
        }
    }

    /// <summary>Serializes data as the envelope plaintext: a count, then length-prefixed UTF-8 keys and values.</summary>
    public static byte[] EncodeData(IReadOnlyDictionary<string, string> data)
    {
        var size = 4;
        foreach (var (key, value) in data)
        {
            size += 8 + Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value);
        }

        var buffer = new byte[size];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt32BigEndian(span, data.Count);
        var offset = 4;
        foreach (var (key, value) in data.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            offset += WriteString(span[offset..], key);
            offset += WriteString(span[offset..], value);
        }

        return buffer;
    }

    /// <summary>Reads what <see cref="EncodeData"/> wrote, then zeroes the buffer.</summary>
    public static Dictionary<string, string> DecodeData(string name, byte[] plaintext)
    {
        try
        {
            var span = new ReadOnlySpan<byte>(plaintext);
            var count = ReadLength(ref span);
            var data = new Dictionary<string, string>(Math.Min(count, 1024), StringComparer.Ordinal);
            for (var i = 0; i < count; i++)
            {
                var key = ReadString(ref span);
                data[key] = ReadString(ref span);
            }

            if (!span.IsEmpty)
            {
                throw new InvalidDataException("trailing bytes");
            }

            return data;
        }
        catch (Exception ex) when (ex is InvalidDataException or ArgumentException or DecoderFallbackException)
        {
            throw new InvalidCiphertextException($"The stored record of secret '{name}' is corrupt: its data does not decode.", ex);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static int WriteString(Span<byte> destination, string value)
    {
        var length = Encoding.UTF8.GetBytes(value, destination[4..]);
        BinaryPrimitives.WriteInt32BigEndian(destination, length);
        return 4 + length;
    }

    private static int ReadLength(ref ReadOnlySpan<byte> span)
    {
        if (span.Length < 4)
        {
            throw new InvalidDataException("truncated");
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(span);
        span = span[4..];
        return length >= 0 ? length : throw new InvalidDataException("negative length");
    }

    private static string ReadString(ref ReadOnlySpan<byte> span)
    {
        var length = ReadLength(ref span);
        if (span.Length < length)
        {
            throw new InvalidDataException("truncated");
        }

        var value = StrictUtf8.GetString(span[..length]);
        span = span[length..];
        return value;
    }

    private static InvalidCiphertextException Corrupt(string name, string reason) =>
        new($"The stored record of secret '{name}' is corrupt: {reason}.");

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);
}

/// <summary>A stored record's clear header.</summary>
/// <param name="Type">The secret's type.</param>
/// <param name="CreatedAt">When the secret was created.</param>
/// <param name="UpdatedAt">When its data was last written.</param>
/// <param name="KeptRevision">The revision a rewrap kept (format 2), or <see langword="null"/> (format 1).</param>
/// <param name="Length">The header's length in bytes.</param>
internal readonly record struct RecordHeader(SecretType Type, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, long? KeptRevision, int Length)
{
    /// <summary>
    /// The secret's revision, for a record the store holds at <paramref name="storeRevision"/>: the store revision of
    /// the write that last changed its data, which a rewrap keeps.
    /// </summary>
    public long RevisionAt(long storeRevision) => KeptRevision ?? storeRevision;
}
