using System.Buffers.Binary;
using System.Text;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// The key fields of an envelope's header, read as docs/envelope.md lays them out, and the ciphertexts a caller can
/// forge from them: an envelope with other key fields or another provider id, and the KMS plugin's ciphertext
/// formats as docs/kms.md lays them out.
/// </summary>
internal sealed record EnvelopeFields(string KeyId, uint KeyVersion, byte[] Wrapped)
{
    public static EnvelopeFields Parse(byte[] envelope)
    {
        var offset = KeyIdOffset(envelope);
        var keyIdLength = BinaryPrimitives.ReadUInt16BigEndian(envelope.AsSpan(offset));
        var keyId = Encoding.UTF8.GetString(envelope, offset + 2, keyIdLength);
        offset += 2 + keyIdLength;
        var keyVersion = BinaryPrimitives.ReadUInt32BigEndian(envelope.AsSpan(offset));
        var wrappedLength = BinaryPrimitives.ReadUInt16BigEndian(envelope.AsSpan(offset + 4));
        return new EnvelopeFields(keyId, keyVersion, envelope[(offset + 6)..(offset + 6 + wrappedLength)]);
    }

    /// <summary>
    /// <paramref name="envelope"/> with its key id, key version and wrapped data key replaced by these, as a caller
    /// forging one could send it: a wrapped key unseen before reaches the key provider.
    /// </summary>
    public static byte[] WithKey(byte[] envelope, EnvelopeFields key)
    {
        var offset = KeyIdOffset(envelope);
        var old = Parse(envelope);
        var rest = offset + 2 + Encoding.UTF8.GetByteCount(old.KeyId) + 6 + old.Wrapped.Length;
        var id = Encoding.UTF8.GetBytes(key.KeyId);
        var fields = new byte[2 + id.Length + 6 + key.Wrapped.Length];
        BinaryPrimitives.WriteUInt16BigEndian(fields, (ushort)id.Length);
        id.CopyTo(fields, 2);
        BinaryPrimitives.WriteUInt32BigEndian(fields.AsSpan(2 + id.Length), key.KeyVersion);
        BinaryPrimitives.WriteUInt16BigEndian(fields.AsSpan(6 + id.Length), (ushort)key.Wrapped.Length);
        key.Wrapped.CopyTo(fields, 8 + id.Length);
        return [.. envelope[..offset], .. fields, .. envelope[rest..]];
    }

    /// <summary><paramref name="envelope"/> with its provider id replaced by <paramref name="provider"/> (1 to 64 bytes).</summary>
    public static byte[] WithProvider(byte[] envelope, string provider)
    {
        var offset = ProviderOffset(envelope);
        var id = Encoding.UTF8.GetBytes(provider);
        return [.. envelope[..offset], (byte)id.Length, .. id, .. envelope[(offset + 1 + envelope[offset])..]];
    }

    /// <summary>The KMS v2 ciphertext of these fields: <c>format ‖ key version ‖ wrapped</c>; the key id travels beside it.</summary>
    public byte[] KmsV2Ciphertext(byte format)
    {
        var output = new byte[5 + Wrapped.Length];
        output[0] = format;
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(1), KeyVersion);
        Wrapped.CopyTo(output, 5);
        return output;
    }

    /// <summary>The KMS v1 ciphertext of these fields: <c>format ‖ key id length ‖ key id ‖ key version ‖ wrapped</c>.</summary>
    public byte[] KmsV1Ciphertext(byte format)
    {
        var keyId = Encoding.UTF8.GetBytes(KeyId);
        var output = new byte[7 + keyId.Length + Wrapped.Length];
        output[0] = format;
        BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(1), (ushort)keyId.Length);
        keyId.CopyTo(output, 3);
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(3 + keyId.Length), KeyVersion);
        Wrapped.CopyTo(output, 7 + keyId.Length);
        return output;
    }

    private static int KeyIdOffset(byte[] envelope)
    {
        var offset = ProviderOffset(envelope);
        return offset + 1 + envelope[offset];
    }

    /// <summary>Where the provider id's length is: format 2 has a purpose byte after the algorithm; format 1 none.</summary>
    private static int ProviderOffset(byte[] envelope)
    {
        Assert.Equal("TRS"u8.ToArray(), envelope[..3]);
        return envelope[3] == 2 ? 6 : 5;
    }
}
