using System.Security.Cryptography;

namespace Trousseau;

// Linked into Trousseau.Core (envelope data keys) and Trousseau.Kms (kube-apiserver's keys): what each hands the key
// provider to wrap starts with the label of its purpose, so that the provider's own authentication binds the purpose
// to the key, and an unwrap for one purpose refuses what was wrapped for another. Layout in docs/envelope.md.

/// <summary>The purpose labels put in front of every value Trousseau wraps with its key provider.</summary>
internal static class WrapPurpose
{
    /// <summary>What every label starts with: a value that unwraps to it was wrapped by Trousseau for some purpose.</summary>
    public static ReadOnlySpan<byte> LabelPrefix => "trousseau/"u8;

    /// <summary>Data keys of <c>ITrousseau.EncryptAsync</c> and <c>/v1/encrypt</c>.</summary>
    public static ReadOnlySpan<byte> Api => "trousseau/api\0"u8;

    /// <summary>Data keys of stored secret records.</summary>
    public static ReadOnlySpan<byte> Store => "trousseau/store\0"u8;

    /// <summary>Data keys of ASP.NET Core Data Protection key ring elements.</summary>
    public static ReadOnlySpan<byte> DataProtection => "trousseau/dataprotection\0"u8;

    /// <summary>Keys kube-apiserver hands the KMS plugin.</summary>
    public static ReadOnlySpan<byte> Kms => "trousseau/kms\0"u8;

    /// <summary><paramref name="label"/> followed by <paramref name="value"/>, in a new array the caller zeroes after use.</summary>
    public static byte[] Label(ReadOnlySpan<byte> label, ReadOnlySpan<byte> value)
    {
        var labelled = GC.AllocateUninitializedArray<byte>(label.Length + value.Length, pinned: true);
        label.CopyTo(labelled);
        value.CopyTo(labelled.AsSpan(label.Length));
        return labelled;
    }

    /// <summary>
    /// The value behind <paramref name="label"/> in what a provider unwrapped, or <see langword="null"/> when it was
    /// wrapped for another purpose, or without one; <paramref name="unwrapped"/> is zeroed either way.
    /// </summary>
    public static byte[]? Unlabel(ReadOnlySpan<byte> label, byte[] unwrapped)
    {
        try
        {
            return unwrapped.AsSpan().StartsWith(label) ? unwrapped[label.Length..] : null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(unwrapped);
        }
    }
}
