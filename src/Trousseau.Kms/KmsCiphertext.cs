using System.Buffers.Binary;
using System.Text;

namespace Trousseau.Kms;

/// <summary>
/// What the plugin hands kube-apiserver as ciphertext; big-endian. KMS v2 (format 3): <c>0x03 ‖ key version (uint32)
/// ‖ wrapped</c>; the key id travels beside it in the request. KMS v1 (format 4) has no key id field, so it is
/// inside: <c>0x04 ‖ key id length (uint16) ‖ key id ‖ key version (uint32) ‖ wrapped</c>. The wrapped bytes are the
/// provider's wrap of the KMS purpose label followed by kube-apiserver's key. Formats 1 (v2) and 2 (v1), written
/// before the label, have the same layouts with the bare key wrapped: they are read as <see cref="KmsWrapped.Labelled"/>
/// false.
/// </summary>
internal static class KmsCiphertext
{
    private const byte UnlabelledV2Format = 1;
    private const byte UnlabelledV1Format = 2;
    private const byte V2Format = 3;
    private const byte V1Format = 4;

    public static byte[] ForV2(WrappedKey wrapped)
    {
        var output = new byte[1 + 4 + wrapped.Ciphertext.Length];
        output[0] = V2Format;
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(1), wrapped.KeyVersion);
        wrapped.Ciphertext.Span.CopyTo(output.AsSpan(5));
        return output;
    }

    public static KmsWrapped ParseV2(ReadOnlySpan<byte> ciphertext, string keyId)
    {
        if (ciphertext.Length < 6 || ciphertext[0] is not (V2Format or UnlabelledV2Format))
        {
            throw new InvalidCiphertextException("The ciphertext was not made by this plugin's KMS v2 Encrypt.");
        }

        return new KmsWrapped(new WrappedKey(keyId, BinaryPrimitives.ReadUInt32BigEndian(ciphertext[1..]), ciphertext[5..].ToArray()), ciphertext[0] == V2Format);
    }

    public static byte[] ForV1(WrappedKey wrapped)
    {
        var keyIdLength = Encoding.UTF8.GetByteCount(wrapped.KeyId);
        var output = new byte[1 + 2 + keyIdLength + 4 + wrapped.Ciphertext.Length];
        output[0] = V1Format;
        BinaryPrimitives.WriteUInt16BigEndian(output.AsSpan(1), (ushort)keyIdLength);
        Encoding.UTF8.GetBytes(wrapped.KeyId, output.AsSpan(3));
        BinaryPrimitives.WriteUInt32BigEndian(output.AsSpan(3 + keyIdLength), wrapped.KeyVersion);
        wrapped.Ciphertext.Span.CopyTo(output.AsSpan(7 + keyIdLength));
        return output;
    }

    public static KmsWrapped ParseV1(ReadOnlySpan<byte> ciphertext)
    {
        if (ciphertext.Length < 3 || ciphertext[0] is not (V1Format or UnlabelledV1Format))
        {
            throw new InvalidCiphertextException("The ciphertext was not made by this plugin's KMS v1 Encrypt.");
        }

        var keyIdLength = BinaryPrimitives.ReadUInt16BigEndian(ciphertext[1..]);
        if (keyIdLength == 0 || ciphertext.Length < 3 + keyIdLength + 4 + 1)
        {
            throw new InvalidCiphertextException("The KMS v1 ciphertext is truncated.");
        }

        string keyId;
        try
        {
            keyId = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(ciphertext.Slice(3, keyIdLength));
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidCiphertextException("The KMS v1 ciphertext's key id is not UTF-8.");
        }

        var version = BinaryPrimitives.ReadUInt32BigEndian(ciphertext[(3 + keyIdLength)..]);
        return new KmsWrapped(new WrappedKey(keyId, version, ciphertext[(7 + keyIdLength)..].ToArray()), ciphertext[0] == V1Format);
    }
}

/// <summary>The provider's wrapped bytes in a KMS ciphertext, and whether they hold the KMS purpose label (formats 3 and 4).</summary>
/// <param name="Key">The wrapped bytes and the key that wrapped them.</param>
/// <param name="Labelled">Whether the ciphertext is in a format whose wrapped value starts with the KMS purpose label.</param>
internal readonly record struct KmsWrapped(WrappedKey Key, bool Labelled);
