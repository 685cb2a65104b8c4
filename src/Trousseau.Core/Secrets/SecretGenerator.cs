using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Trousseau;

/// <summary>
/// Turns <see cref="SecretGenerationOptions"/> into a secret's type and data, and <see cref="SecretRegenerationOptions"/>
/// into a secret's data with one value made anew.
/// </summary>
internal static class SecretGenerator
{
    public static (SecretType Type, Dictionary<string, string> Data) Generate(SecretGenerationOptions? options)
    {
        options ??= new SecretGenerationOptions();
        var value = NewValue(options.Length, options.Alphabet);
        if (options.Type == SecretType.Login)
        {
            if (options.Key is not null && options.Key != SecretData.PasswordKey)
            {
                throw new InvalidInputException("key", "A login secret's generated value is always its 'password'.");
            }

            if (string.IsNullOrWhiteSpace(options.Username))
            {
                throw new InvalidInputException("username", "A generated login secret needs a username.");
            }

            SecretData.ValidateUsername(options.Username, "username");

            var data = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [SecretData.UsernameKey] = options.Username,
                [SecretData.PasswordKey] = value,
            };
            if (options.Endpoint is { } endpoint)
            {
                SecretData.ValidateEndpoint(endpoint, "endpoint");
                data[SecretData.EndpointKey] = endpoint;
            }

            return (options.Type, data);
        }

        if (options.Username is not null || options.Endpoint is not null)
        {
            throw new InvalidInputException("type", "Username and endpoint belong to login secrets; set the type to 'login'.");
        }

        var key = options.Key ?? SecretData.DefaultValueKey;
        SecretData.ValidateKey(key);
        return (options.Type, new Dictionary<string, string>(StringComparer.Ordinal) { [key] = value });
    }

    /// <summary>
    /// The secret's data with a new value for the key <paramref name="options"/> names, or the one key a
    /// regeneration can mean: a login secret's <c>password</c>, an opaque secret's only key.
    /// </summary>
    public static Dictionary<string, string> Regenerate(string name, SecretType type, IReadOnlyDictionary<string, string> data, SecretRegenerationOptions options)
    {
        var key = RegeneratedKey(name, type, data, options.Key);
        return new Dictionary<string, string>(data, StringComparer.Ordinal) { [key] = NewValue(options.Length, options.Alphabet) };
    }

    /// <summary>Checks what <see cref="Regenerate"/> can check before it reads the secret.</summary>
    public static void Validate(SecretRegenerationOptions options)
    {
        if (options.Key is { } key)
        {
            SecretData.ValidateKey(key);
        }

        _ = ValidateValueShape(options.Length, options.Alphabet);
    }

    private static string RegeneratedKey(string name, SecretType type, IReadOnlyDictionary<string, string> data, string? key)
    {
        if (type == SecretType.Login)
        {
            if (data.Count == 0)
            {
                throw new InvalidInputException(
                    "name",
                    $"Secret '{name}' is a login secret with no keys (an older version stored it so): a new 'password' alone would leave it without its 'username'; give it both (clectl secret update {name} --username U --password-stdin).");
            }

            return key is null or SecretData.PasswordKey
                ? SecretData.PasswordKey
                : throw new InvalidInputException("key", $"Secret '{name}' is a login secret: its generated value is always its 'password', not '{key}'.");
        }

        if (key is not null)
        {
            // A secret an older version stored without keys takes the key named: that is how it gets a value again.
            return data.ContainsKey(key) || data.Count == 0
                ? key
                : throw new InvalidInputException("key", $"Secret '{name}' has no key '{key}'; its keys are {KeyList(data)}.");
        }

        return data.Count == 1
            ? data.Keys.Single()
            : throw new InvalidInputException(
                "key",
                data.Count == 0
                    ? $"Secret '{name}' has no keys (an older version stored it so): name the key to give a new value, 'key' (clectl: --key KEY)."
                    : $"Secret '{name}' has several keys ({KeyList(data)}): name the one to regenerate.");
    }

    private static string KeyList(IReadOnlyDictionary<string, string> data) =>
        string.Join(", ", data.Keys.Order(StringComparer.Ordinal).Select(k => $"'{k}'"));

    /// <summary>
    /// <paramref name="length"/> characters drawn from <paramref name="alphabet"/>. A character beyond the Basic
    /// Multilingual Plane is two UTF-16 units, drawn as one: a unit alone is half a character, which no encoding keeps.
    /// </summary>
    private static string NewValue(int length, string alphabet)
    {
        var characters = ValidateValueShape(length, alphabet);
        if (characters.Length == alphabet.Length)
        {
            return RandomNumberGenerator.GetString(alphabet, length);
        }

        var value = new StringBuilder(length * 2);
        Span<char> units = stackalloc char[2];
        foreach (var character in RandomNumberGenerator.GetItems<Rune>(characters, length))
        {
            value.Append(units[..character.EncodeToUtf16(units)]);
        }

        return value.ToString();
    }

    /// <summary>Checks the length and the alphabet; returns the alphabet's characters.</summary>
    private static Rune[] ValidateValueShape(int length, string? alphabet)
    {
        if (length is < 1 or > SecretGenerationOptions.MaxLength)
        {
            throw new InvalidInputException("length", $"Length must be between 1 and {SecretGenerationOptions.MaxLength}, not {length}.");
        }

        var characters = alphabet is null ? [] : CharactersOf(alphabet);
        if (characters is null || characters.Length < 2 || characters.Any(Rune.IsControl) || characters.Distinct().Count() != characters.Length)
        {
            throw new InvalidInputException("alphabet", "The alphabet needs at least two distinct characters, whole ones (no half of a surrogate pair), and no control characters.");
        }

        foreach (var character in characters)
        {
            if (!StandsAlone(character))
            {
                throw new InvalidInputException(
                    "alphabet",
                    $"The alphabet holds 'U+{character.Value:X4}', which does not stand alone: Unicode normalization changes it or joins it to the character before it (a compatibility form such as a full-width letter or a ligature, a combining mark, a Hangul jamo), or it shows as nothing (a format character, a line or paragraph separator, an unassigned code point); a value holding it could read as another value, so it would hold fewer bits than its length says.");
            }
        }

        return characters;
    }

    /// <summary>
    /// Whether a character, drawn beside any other that stands alone, stays itself: normalization (NFC, NFKC) leaves it
    /// as it is and joins it to no neighbour, and it shows. Otherwise two different values could be one once normalized
    /// (as PostgreSQL's SCRAM and many forms normalize passwords), or look the same.
    /// </summary>
    private static bool StandsAlone(Rune character) =>
        Rune.GetUnicodeCategory(character) is not (UnicodeCategory.Format or UnicodeCategory.OtherNotAssigned
            or UnicodeCategory.NonSpacingMark or UnicodeCategory.SpacingCombiningMark or UnicodeCategory.EnclosingMark
            or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator)
        && !IsHangulJamo(character.Value)
        && character.ToString().IsNormalized(NormalizationForm.FormKC);

    /// <summary>The conjoining Hangul jamo, which normalization joins into syllables: U+1100 to U+11FF, U+A960 to U+A97F, U+D7B0 to U+D7FF.</summary>
    private static bool IsHangulJamo(int value) => value is (>= 0x1100 and <= 0x11FF) or (>= 0xA960 and <= 0xA97F) or (>= 0xD7B0 and <= 0xD7FF);

    /// <summary>The characters of <paramref name="text"/>, or <see langword="null"/> when it holds half of one.</summary>
    private static Rune[]? CharactersOf(string text)
    {
        var characters = new List<Rune>(text.Length);
        for (var rest = text.AsSpan(); !rest.IsEmpty;)
        {
            if (Rune.DecodeFromUtf16(rest, out var character, out var units) != System.Buffers.OperationStatus.Done)
            {
                return null;
            }

            characters.Add(character);
            rest = rest[units..];
        }

        return [.. characters];
    }
}
