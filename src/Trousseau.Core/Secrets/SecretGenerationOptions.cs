namespace Trousseau;

/// <summary>
/// How <see cref="ITrousseau.GenerateSecretAsync"/> makes a value. The value is drawn from a cryptographic
/// random number generator, uniformly over <see cref="Alphabet"/>.
/// </summary>
public sealed class SecretGenerationOptions
{
    /// <summary>Letters and digits: 62 symbols, about 5.95 bits per character.</summary>
    public const string DefaultAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    /// <summary>The default length: 32 characters of <see cref="DefaultAlphabet"/>, about 190 bits.</summary>
    public const int DefaultLength = 32;

    /// <summary>The longest value that can be generated.</summary>
    public const int MaxLength = 4096;

    /// <summary>The secret's type. Default <see cref="SecretType.Opaque"/>.</summary>
    public SecretType Type { get; set; } = SecretType.Opaque;

    /// <summary>
    /// The data key that receives the value. Default <c>value</c> for opaque secrets; a login secret's generated
    /// value is always its <c>password</c>.
    /// </summary>
    public string? Key { get; set; }

    /// <summary>Number of characters, 1 to <see cref="MaxLength"/>. Default <see cref="DefaultLength"/>.</summary>
    public int Length { get; set; } = DefaultLength;

    /// <summary>
    /// The characters to draw from: at least two, all distinct, none a control character. A character beyond the Basic
    /// Multilingual Plane (an emoji) counts as one, in the alphabet and in <see cref="Length"/>; half of one is refused.
    /// Each must stand alone, so that no two values read as one: a character that Unicode normalization (NFKC) changes
    /// (full-width letters, ligatures), a combining mark, a conjoining Hangul jamo, a format character, a line or
    /// paragraph separator, or an unassigned code point is refused.
    /// </summary>
    public string Alphabet { get; set; } = DefaultAlphabet;

    /// <summary>For a login secret: the user name stored beside the generated password (required).</summary>
    public string? Username { get; set; }

    /// <summary>For a login secret: where the credential is used (optional).</summary>
    public string? Endpoint { get; set; }
}
