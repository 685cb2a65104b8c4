using System.Security.Cryptography;

namespace Trousseau;

// Linked into Trousseau.Hosting, which writes the audit trail, and clectl, which verifies it: the one definition of
// how each line names the line before it.

/// <summary>
/// The hash chain of the audit trail: each line's <c>prev</c> field is the SHA-256, in lowercase hex, of the exact
/// bytes of the line before it (without its line feed), across rotated files; the first line of a trail carries
/// <see cref="Genesis"/>.
/// </summary>
internal static class AuditChain
{
    /// <summary>The name of the field that holds the previous line's hash.</summary>
    public const string PreviousField = "prev";

    /// <summary>
    /// The longest line a trail holds, in bytes: each text field of a record is cut to <see cref="MaxFieldLength"/>
    /// characters, so a line stays well below it even with every character escaped; a longer line is not a record.
    /// </summary>
    public const int MaxLineBytes = 1024 * 1024;

    /// <summary>The most characters of one text field of a line (an identity, a request id) before it is cut.</summary>
    public const int MaxFieldLength = 8 * 1024;

    /// <summary>The <c>prev</c> of a trail's first line: 64 zeros.</summary>
    public static readonly string Genesis = new('0', 64);

    /// <summary>The hash that the line after <paramref name="line"/> carries as its <c>prev</c>.</summary>
    /// <param name="line">A line's bytes, without its line feed.</param>
    public static string Hash(ReadOnlySpan<byte> line) => Convert.ToHexStringLower(SHA256.HashData(line));
}
