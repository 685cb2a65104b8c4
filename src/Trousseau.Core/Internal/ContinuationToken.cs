using System.Buffers.Text;
using System.Text;

namespace Trousseau.Internal;

/// <summary>
/// The token between two pages of a secret listing: a format version, then the last name of the page, in base64url.
/// Listings go in name order, so the next page starts just after that name, whatever was created or deleted since.
/// Callers treat it as opaque.
/// </summary>
internal static class ContinuationToken
{
    private const byte FormatVersion = 1;

    // One version byte and a name of at most 253 ASCII bytes, in base64url without padding.
    private const int MaxLength = ((TrousseauLimits.MaxNameLength + 1) * 4 + 2) / 3;

    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static string Create(string lastName)
    {
        var bytes = new byte[1 + Encoding.UTF8.GetByteCount(lastName)];
        bytes[0] = FormatVersion;
        Encoding.UTF8.GetBytes(lastName, bytes.AsSpan(1));
        return Base64Url.EncodeToString(bytes);
    }

    /// <summary>The last name of the page that gave <paramref name="token"/>; throws <see cref="InvalidInputException"/> for any other token.</summary>
    public static string Read(string token, string prefix)
    {
        if (token.Length is 0 or > MaxLength || !Base64Url.IsValid(token))
        {
            throw Invalid();
        }

        var bytes = Base64Url.DecodeFromChars(token);
        if (bytes is not [FormatVersion, _, ..])
        {
            throw Invalid();
        }

        string name;
        try
        {
            name = StrictUtf8.GetString(bytes, 1, bytes.Length - 1);
        }
        catch (DecoderFallbackException)
        {
            throw Invalid();
        }

        // A page may end on a name an earlier release stored, which the current rule refuses but the store still lists.
        return SecretNames.IsEarlierReleaseName(name) && name.StartsWith(prefix, StringComparison.Ordinal) ? name : throw Invalid();
    }

    private static InvalidInputException Invalid() =>
        new("continue", "The continuation token is not one this listing gave: list again from the first page, with the same prefix.");
}
