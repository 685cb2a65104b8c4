using Microsoft.Extensions.Options;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Checks the settings of <see cref="VaultOptions"/> that DataAnnotations cannot at start: the address's scheme, the
/// credentials each auth method needs (and that those given as values hold no line break or other control character
/// inside them), the CA file. Each failure names the configuration key, the value given (never
/// a token or secret id) and what would be valid. <see cref="VaultOptionsAnnotationsValidator"/> checks the rest.
/// </summary>
internal sealed class VaultOptionsValidator(string sectionPath) : IValidateOptions<VaultOptions>
{
    private static readonly string[] Methods = ["token", "kubernetes", "approle"];
    private static readonly TimeSpan MinAttemptTimeout = TimeSpan.FromMilliseconds(10);

    public ValidateOptionsResult Validate(string? name, VaultOptions options)
    {
        var failures = new List<string>();
        if (options.Address is not null && options.Address.OriginalString.Contains('@', StringComparison.Ordinal))
        {
            // Never shown: HttpClient sends no such password, and each message naming Vault's address would show it.
            failures.Add($"{Key("Address")} holds a user name or password before '@', not shown here, which Trousseau never sends to Vault: "
                + $"write the address as http(s)://HOST:PORT, and log in with {Key("Auth")}.");
        }
        else if (options.Address is not null && (!options.Address.IsAbsoluteUri || (options.Address.Scheme != Uri.UriSchemeHttp && options.Address.Scheme != Uri.UriSchemeHttps)))
        {
            failures.Add($"{Key("Address")} is '{options.Address.OriginalString}', which is not an http(s) URL such as https://vault:8200.");
        }

        var auth = options.Auth;
        if (!Methods.Contains(auth.Method, StringComparer.OrdinalIgnoreCase))
        {
            failures.Add($"{Key("Auth:Method")} is '{auth.Method}': use one of {string.Join(", ", Methods)} (case-insensitive).");
        }
        else if (IsMethod(auth, "token") && VaultCredential.Given(auth.Token) is null && string.IsNullOrEmpty(auth.TokenFile))
        {
            failures.Add($"{Key("Auth:Token")} or {Key("Auth:TokenFile")} is required for token auth.");
        }
        else if (IsMethod(auth, "kubernetes") && string.IsNullOrEmpty(auth.Role))
        {
            failures.Add($"{Key("Auth:Role")} is required for kubernetes auth: the Vault role to log in as.");
        }
        else if (IsMethod(auth, "approle") && (VaultCredential.Given(auth.RoleId) is null || (VaultCredential.Given(auth.SecretId) is null && string.IsNullOrEmpty(auth.SecretIdFile))))
        {
            failures.Add($"{Key("Auth:RoleId")} and {Key("Auth:SecretId")} (or {Key("Auth:SecretIdFile")}) are required for approle auth.");
        }

        foreach (var (key, value) in CredentialValues(auth))
        {
            if (VaultCredential.HasControlCharacter(value))
            {
                // Never shown: the value is a credential.
                failures.Add($"{Key(key)} holds a line break or another control character inside its value, not shown here, which no "
                    + "Vault credential has: give the credential alone, on one line.");
            }
        }

        if (options.AttemptTimeout < MinAttemptTimeout || options.AttemptTimeout > options.Timeout)
        {
            failures.Add($"{Key("AttemptTimeout")} is {options.AttemptTimeout:c}; it must be at least {MinAttemptTimeout:c} and at most {Key("Timeout")} ({options.Timeout:c}).");
        }

        if (options.CaFile is { } caFile && PemFiles.Check(caFile, Key("CaFile")) is { } problem)
        {
            failures.Add(problem);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>The credentials given as values that the configured auth method sends to Vault, by their keys under <c>Auth</c>.</summary>
    private static IEnumerable<(string Key, string? Value)> CredentialValues(VaultAuthOptions auth)
    {
        if (IsMethod(auth, "token"))
        {
            yield return ("Auth:Token", auth.Token);
        }
        else if (IsMethod(auth, "approle"))
        {
            yield return ("Auth:RoleId", auth.RoleId);
            yield return ("Auth:SecretId", auth.SecretId);
        }
    }

    private static bool IsMethod(VaultAuthOptions auth, string method) => string.Equals(auth.Method, method, StringComparison.OrdinalIgnoreCase);

    private string Key(string relative) => $"{sectionPath}:{relative}";
}
