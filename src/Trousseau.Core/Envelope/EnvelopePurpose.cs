namespace Trousseau.Envelope;

/// <summary>
/// What an envelope protects. Format 2 envelopes carry it in their authenticated header and have data keys of their
/// own purpose, so an envelope opens only for the purpose it was made for.
/// </summary>
internal enum EnvelopePurpose : byte
{
    /// <summary>A format 1 envelope, written before purposes existed; its data key has no label.</summary>
    Unlabelled = 0,

    /// <summary><see cref="ITrousseau.EncryptAsync"/>, in process or through <c>/v1/encrypt</c>.</summary>
    Api = 1,

    /// <summary>Stored secret records.</summary>
    Store = 2,

    /// <summary>ASP.NET Core Data Protection key ring elements.</summary>
    DataProtection = 3,
}

/// <summary>The rules that go with each <see cref="EnvelopePurpose"/>.</summary>
internal static class EnvelopePurposes
{
    /// <summary>The number of purposes, <see cref="EnvelopePurpose.Unlabelled"/> included.</summary>
    public const int Count = 4;

    /// <summary>The label in front of the data keys of <paramref name="purpose"/> when the provider wraps them.</summary>
    public static ReadOnlySpan<byte> WrapLabel(EnvelopePurpose purpose) => purpose switch
    {
        EnvelopePurpose.Api => WrapPurpose.Api,
        EnvelopePurpose.Store => WrapPurpose.Store,
        EnvelopePurpose.DataProtection => WrapPurpose.DataProtection,
        _ => [],
    };

    /// <summary>Whether a header byte names a purpose that format 2 envelopes carry.</summary>
    public static bool IsLabelled(byte value) => value is >= (byte)EnvelopePurpose.Api and <= (byte)EnvelopePurpose.DataProtection;

    /// <summary>
    /// Whether envelopes opened for <paramref name="purpose"/> are records Trousseau itself keeps and read from where it
    /// keeps them (stored secrets, Data Protection key ring elements), rather than ciphertexts a caller sent: only those
    /// tell something about the key provider, such as a key it lacks.
    /// </summary>
    public static bool IsKeptByTrousseau(EnvelopePurpose purpose) => purpose is EnvelopePurpose.Store or EnvelopePurpose.DataProtection;

    /// <summary>What the purpose is for, as error messages name it.</summary>
    public static string Describe(EnvelopePurpose purpose) => purpose switch
    {
        EnvelopePurpose.Api => "encrypt/decrypt (ITrousseau.EncryptAsync, /v1/encrypt)",
        EnvelopePurpose.Store => "a stored secret record",
        EnvelopePurpose.DataProtection => "a Data Protection key ring",
        _ => "no purpose (format 1)",
    };

    /// <summary>
    /// Whether a format 1 envelope, which names no purpose and shares its data key with every purpose, may open for
    /// <paramref name="purpose"/> with <paramref name="context"/>. The store and Data Protection read their own
    /// records as before. Encrypt/decrypt opens one unless its context is a stored record's or the Data Protection
    /// key ring's, the contexts of Trousseau's own envelopes: so no caller opens a record or a key ring element.
    /// </summary>
    public static bool OpensUnlabelled(EnvelopePurpose purpose, ReadOnlySpan<byte> context) => purpose switch
    {
        EnvelopePurpose.Store or EnvelopePurpose.DataProtection => true,
        EnvelopePurpose.Api => !context.StartsWith(SecretRecord.AadLabel) && !context.SequenceEqual(DataProtectionKeyEncryptor.Context.Span),
        _ => false,
    };
}
