using System.Globalization;
using System.Text;

namespace Trousseau;

/// <summary>
/// The rules for a secret's data, by type: data keys of 1 to 253 characters of <c>A-Z a-z 0-9 . _ -</c>, at most
/// <see cref="TrousseauLimits.MaxSecretDataBytes"/> in all, at least one key, and for a login secret a
/// <see cref="UsernameKey"/> that shows at least one character and holds no control character, a non-empty <see cref="PasswordKey"/>, an optional
/// <see cref="EndpointKey"/> that is not empty or only white space, and nothing else.
/// Error messages name keys, never values.
/// </summary>
public static class SecretData
{
    /// <summary>The user name of a login secret.</summary>
    public const string UsernameKey = "username";

    /// <summary>The password of a login secret.</summary>
    public const string PasswordKey = "password";

    /// <summary>The optional endpoint of a login secret.</summary>
    public const string EndpointKey = "endpoint";

    /// <summary>The data key of a generated opaque secret when none is given.</summary>
    public const string DefaultValueKey = "value";

    // No type name is longer: an unknown one is repeated up to this length.
    private const int MaxTypeNameLength = 40;

    /// <summary>Checks a secret's type and data against the rules.</summary>
    /// <param name="type">The secret's type; it must be a known one.</param>
    /// <param name="data">The secret's data, key to value.</param>
    /// <exception cref="InvalidInputException">The type is unknown, or the data breaks a rule.</exception>
    /// <exception cref="SecretTooLargeException">The data is over <see cref="TrousseauLimits.MaxSecretDataBytes"/>.</exception>
    public static void Validate(SecretType type, IReadOnlyDictionary<string, string>? data)
    {
        if (!type.IsKnown)
        {
            throw new InvalidInputException("type", $"Unknown secret type '{Excerpt.Of(type.Value, MaxTypeNameLength)}': use 'opaque' or 'login'.");
        }

        if (data is null)
        {
            throw new InvalidInputException("data", "Secret data is required.");
        }

        if (data.Count == 0)
        {
            throw new InvalidInputException("data", "A secret holds at least one data key; 'data' is empty (delete the secret to remove every key).");
        }

        long size = 0;
        foreach (var (key, value) in data)
        {
            ValidateKey(key);
            if (value is null)
            {
                throw new InvalidInputException("data", $"The value of data key '{key}' is null.");
            }

            size += Encoding.UTF8.GetByteCount(key) + Encoding.UTF8.GetByteCount(value);
        }

        if (size > TrousseauLimits.MaxSecretDataBytes)
        {
            throw new SecretTooLargeException(size);
        }

        if (type == SecretType.Login)
        {
            RequireNonEmpty(data, UsernameKey);
            RequireNonEmpty(data, PasswordKey);
            if (string.IsNullOrWhiteSpace(data[UsernameKey]))
            {
                throw new InvalidInputException("data", $"A login secret's '{UsernameKey}' is only white space; give the account's name.");
            }

            ValidateUsername(data[UsernameKey], "data");

            if (data.TryGetValue(EndpointKey, out var endpoint))
            {
                ValidateEndpoint(endpoint, "data");
            }

            foreach (var key in data.Keys)
            {
                if (key is not (UsernameKey or PasswordKey or EndpointKey))
                {
                    throw new InvalidInputException("data", $"A login secret holds only 'username', 'password' and 'endpoint', not '{key}'.");
                }
            }
        }
    }

    /// <summary>Checks one data key: 1 to 253 characters of letters, digits, '.', '_' and '-'.</summary>
    /// <param name="key">The data key.</param>
    /// <exception cref="InvalidInputException">The key breaks the rule.</exception>
    public static void ValidateKey(string? key)
    {
        if (key is null || key.Length is 0 or > TrousseauLimits.MaxDataKeyLength || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new InvalidInputException(
                "data",
                $"Invalid data key{(key is { Length: <= 300 } ? $" '{key}'" : string.Empty)}: use 1 to {TrousseauLimits.MaxDataKeyLength} characters of A-Z, a-z, 0-9, '.', '_', '-'.");
        }
    }

    /// <summary>
    /// Checks a login secret's username that is not only white space: it holds no control character (a line break or a
    /// NUL would end it early in most places it is given), and at least one character that shows, so that a name made of
    /// format characters such as U+200B is refused, while a joiner between letters (U+200C in Persian names) is kept.
    /// </summary>
    /// <param name="username">The username.</param>
    /// <param name="field">The input field that carries it: <c>data</c>, or <c>username</c> for a generated secret.</param>
    /// <exception cref="InvalidInputException">The username holds a control character or shows nothing.</exception>
    internal static void ValidateUsername(string username, string field)
    {
        if (username.Any(char.IsControl))
        {
            throw new InvalidInputException(
                field, $"A login secret's '{UsernameKey}' holds a control character (a line break, a tab, a NUL), which no account's name holds; give the name as it is typed.");
        }

        if (username.All(ShowsNothing))
        {
            throw new InvalidInputException(
                field, $"A login secret's '{UsernameKey}' shows nothing: it holds only white space and invisible characters (such as U+200B); give the account's name.");
        }
    }

    private static bool ShowsNothing(char c) =>
        char.IsWhiteSpace(c) || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    /// <summary>Checks a login secret's endpoint: when there is one, it holds more than white space.</summary>
    /// <param name="endpoint">The endpoint.</param>
    /// <param name="field">The input field that carries it: <c>data</c>, or <c>endpoint</c> for a generated secret.</param>
    /// <exception cref="InvalidInputException">The endpoint is empty or only white space.</exception>
    internal static void ValidateEndpoint(string endpoint, string field)
    {
        if (string.IsNullOrWhiteSpace(endpoint))
        {
            throw new InvalidInputException(field, "A login secret's 'endpoint' is empty or only white space; leave it out when there is none.");
        }
    }

    private static void RequireNonEmpty(IReadOnlyDictionary<string, string> data, string key)
    {
        if (!data.TryGetValue(key, out var value) || value.Length == 0)
        {
            throw new InvalidInputException("data", $"A login secret needs a non-empty '{key}'.");
        }
    }
}
