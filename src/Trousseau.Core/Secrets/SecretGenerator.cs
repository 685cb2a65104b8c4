using System.Security.Cryptography;

namespace Trousseau;

/// <summary>Turns <see cref="SecretGenerationOptions"/> into a secret's type and data.</summary>
internal static class SecretGenerator
{
    public static (SecretType Type, Dictionary<string, string> Data) Generate(SecretGenerationOptions? options)
    {
        options ??= new SecretGenerationOptions();
        if (options.Length is < 1 or > SecretGenerationOptions.MaxLength)
        {
            throw new InvalidInputException("length", $"Length must be between 1 and {SecretGenerationOptions.MaxLength}, not {options.Length}.");
        }

        var alphabet = options.Alphabet;
        if (alphabet is null || alphabet.Length < 2 || alphabet.Any(char.IsControl) || alphabet.Distinct().Count() != alphabet.Length)
        {
            throw new InvalidInputException("alphabet", "The alphabet needs at least two distinct characters and no control characters.");
        }

        var value = RandomNumberGenerator.GetString(alphabet, options.Length);
        if (options.Type == SecretType.Login)
        {
            if (options.Key is not null && options.Key != SecretData.PasswordKey)
            {
                throw new InvalidInputException("key", "A login secret's generated value is always its 'password'.");
            }

            if (string.IsNullOrEmpty(options.Username))
            {
                throw new InvalidInputException("username", "A generated login secret needs a username.");
            }

            var data = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                [SecretData.UsernameKey] = options.Username,
                [SecretData.PasswordKey] = value,
            };
            if (!string.IsNullOrEmpty(options.Endpoint))
            {
                data[SecretData.EndpointKey] = options.Endpoint;
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
}
