using System.Text;

namespace Trousseau;

/// <summary>The rules for a secret's data, by type. Error messages name keys, never values.</summary>
internal static class SecretData
{
    public const string UsernameKey = "username";
    public const string PasswordKey = "password";
    public const string EndpointKey = "endpoint";
    public const string DefaultValueKey = "value";

    /// <summary>Checks type and data; throws <see cref="InvalidInputException"/> or <see cref="SecretTooLargeException"/>.</summary>
    public static void Validate(SecretType type, IReadOnlyDictionary<string, string>? data)
    {
        if (!type.IsKnown)
        {
            throw new InvalidInputException("type", $"Unknown secret type '{Shorten(type.Value)}': use 'opaque' or 'login'.");
        }

        if (data is null)
        {
            throw new InvalidInputException("data", "Secret data is required.");
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
    public static void ValidateKey(string? key)
    {
        if (key is null || key.Length is 0 or > TrousseauLimits.MaxDataKeyLength || !key.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
        {
            throw new InvalidInputException(
                "data",
                $"Invalid data key{(key is { Length: <= 300 } ? $" '{key}'" : string.Empty)}: use 1 to {TrousseauLimits.MaxDataKeyLength} characters of A-Z, a-z, 0-9, '.', '_', '-'.");
        }
    }

    private static void RequireNonEmpty(IReadOnlyDictionary<string, string> data, string key)
    {
        if (!data.TryGetValue(key, out var value) || value.Length == 0)
        {
            throw new InvalidInputException("data", $"A login secret needs a non-empty '{key}'.");
        }
    }

    private static string Shorten(string text) => text.Length <= 40 ? text : string.Concat(text.AsSpan(0, 40), "...");
}
