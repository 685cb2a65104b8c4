using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Checks the authentication settings of <see cref="TrousseauApiOptions"/> at start, which depend on the mode, and the
/// allowed hosts. Each
/// failure names the configuration key, the value given and what would be valid. Kubernetes mode needs an
/// <see cref="ICallerVerifier"/>, looked up only in that mode. <see cref="TrousseauApiOptionsAnnotationsValidator"/>
/// checks the rest.
/// </summary>
/// <param name="sectionPath">The API's section, for example <c>Trousseau:Api</c>.</param>
/// <param name="keyProviderKey">The key that chooses the key provider, for example <c>Trousseau:KeyProvider</c>.</param>
/// <param name="services">Where the caller verifier is looked up.</param>
internal sealed class TrousseauApiOptionsValidator(string sectionPath, string keyProviderKey, IServiceProvider services) : IValidateOptions<TrousseauApiOptions>
{
    public ValidateOptionsResult Validate(string? name, TrousseauApiOptions options)
    {
        var failures = new List<string>();
        var auth = options.Auth;
        var mode = Key("Auth:Mode");
        if (auth.Mode == TrousseauApiAuthMode.Token && string.IsNullOrWhiteSpace(auth.TokenFile))
        {
            failures.Add($"{Key("Auth:TokenFile")} is {Given(auth.TokenFile)}; while {mode} is token it must be the path of the bearer token file (for example /var/lib/trousseau/api.token), or set {mode} to kubernetes or none.");
        }

        if (auth.Mode == TrousseauApiAuthMode.Kubernetes)
        {
            if (string.IsNullOrWhiteSpace(auth.KubernetesRole))
            {
                failures.Add($"{Key("Auth:KubernetesRole")} is {Given(auth.KubernetesRole)}; while {mode} is kubernetes it must name the Vault Kubernetes auth role callers log in to (for example api-callers), or set {mode} to token or none.");
            }

            if (services.GetService<ICallerVerifier>() is null)
            {
                failures.Add($"{mode} is 'kubernetes', which checks callers through Vault and needs the Vault key provider; set {keyProviderKey} to vault, or set {mode} to token or none.");
            }
        }

        for (var i = 0; i < options.AllowedHosts.Count; i++)
        {
            var host = options.AllowedHosts[i];
            if (Uri.CheckHostName(host) is not (UriHostNameType.Dns or UriHostNameType.IPv4 or UriHostNameType.IPv6))
            {
                failures.Add($"{Key($"AllowedHosts:{i}")} is {Given(host)}; it must be a host name without a port or a scheme (for example broker.internal).");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static string Given(string? value) => value is null ? "not set" : $"'{value}'";

    private string Key(string relative) => $"{sectionPath}:{relative}";
}
