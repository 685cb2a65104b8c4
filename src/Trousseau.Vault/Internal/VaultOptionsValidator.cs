using Microsoft.Extensions.Options;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Checks <see cref="VaultOptions"/> at start. Each failure names the configuration key, the value given (never a
/// token or secret id) and what would be valid.
/// </summary>
internal sealed class VaultOptionsValidator(string sectionPath) : IValidateOptions<VaultOptions>
{
    private static readonly string[] Methods = ["token", "kubernetes", "approle"];
    private static readonly TimeSpan MinTimeout = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(5);

    public ValidateOptionsResult Validate(string? name, VaultOptions options)
    {
        var failures = new List<string>();
        if (options.Address is null)
        {
            failures.Add($"{Key("Address")} is required: Vault's http(s) URL, for example https://vault:8200.");
        }
        else if (!options.Address.IsAbsoluteUri || (options.Address.Scheme != Uri.UriSchemeHttp && options.Address.Scheme != Uri.UriSchemeHttps))
        {
            failures.Add($"{Key("Address")} is '{options.Address.OriginalString}', which is not an http(s) URL such as https://vault:8200.");
        }

        var auth = options.Auth;
        if (!Methods.Contains(auth.Method, StringComparer.OrdinalIgnoreCase))
        {
            failures.Add($"{Key("Auth:Method")} is '{auth.Method}': use one of {string.Join(", ", Methods)} (case-insensitive).");
        }
        else if (IsMethod(auth, "token") && string.IsNullOrEmpty(auth.Token) && string.IsNullOrEmpty(auth.TokenFile))
        {
            failures.Add($"{Key("Auth:Token")} or {Key("Auth:TokenFile")} is required for token auth.");
        }
        else if (IsMethod(auth, "kubernetes") && string.IsNullOrEmpty(auth.Role))
        {
            failures.Add($"{Key("Auth:Role")} is required for kubernetes auth: the Vault role to log in as.");
        }
        else if (IsMethod(auth, "approle") && (string.IsNullOrEmpty(auth.RoleId) || (string.IsNullOrEmpty(auth.SecretId) && string.IsNullOrEmpty(auth.SecretIdFile))))
        {
            failures.Add($"{Key("Auth:RoleId")} and {Key("Auth:SecretId")} (or {Key("Auth:SecretIdFile")}) are required for approle auth.");
        }

        if (string.IsNullOrWhiteSpace(options.TransitMount))
        {
            failures.Add($"{Key("TransitMount")} must not be empty (default transit).");
        }

        if (string.IsNullOrWhiteSpace(options.KeyName))
        {
            failures.Add($"{Key("KeyName")} must not be empty (default trousseau).");
        }

        if (options.Timeout < MinTimeout || options.Timeout > MaxTimeout)
        {
            failures.Add($"{Key("Timeout")} is {options.Timeout:c}; it must be at least {MinTimeout:c} and at most {MaxTimeout:c}.");
        }

        if (options.AttemptTimeout < MinTimeout || options.AttemptTimeout > options.Timeout)
        {
            failures.Add($"{Key("AttemptTimeout")} is {options.AttemptTimeout:c}; it must be at least {MinTimeout:c} and at most {Key("Timeout")} ({options.Timeout:c}).");
        }

        if (options.CaFile is { } caFile && !File.Exists(caFile))
        {
            failures.Add($"{Key("CaFile")} names {Path.GetFullPath(caFile)}, which does not exist.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static bool IsMethod(VaultAuthOptions auth, string method) => string.Equals(auth.Method, method, StringComparison.OrdinalIgnoreCase);

    private string Key(string relative) => $"{sectionPath}:{relative}";
}
