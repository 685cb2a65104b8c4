using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Checks the settings of <see cref="TrousseauApiOptions"/> at start that depend on one another: authentication,
/// which depends on the mode, the allowed hosts, each entry of <see cref="TrousseauApiOptions.Policies"/>, and TLS (a
/// certificate needs its key and the reverse, a client CA needs a certificate, and the files must exist and hold what
/// they should). Each failure names the configuration key (down to the list item, as in
/// <c>Trousseau:Api:Policies:0:Actions:1</c>), the value given or the file's full path, and what would be valid.
/// Kubernetes mode needs an <see cref="ICallerVerifier"/>, looked up only in that mode.
/// <see cref="TrousseauApiOptionsAnnotationsValidator"/> checks the rest.
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

        for (var i = 0; i < options.Policies.Count; i++)
        {
            ValidatePolicy(options.Policies[i], Key($"Policies:{i}"), failures);
        }

        if (TlsProblem(options.Tls) is { } tlsProblem)
        {
            failures.Add(tlsProblem);
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static void ValidatePolicy(TrousseauApiPolicy policy, string key, List<string> failures)
    {
        var actions = string.Join(", ", ApiAction.All);
        if (policy.Subjects.Count == 0)
        {
            failures.Add($"{key}:Subjects is empty; list at least one identity glob, for example admin or system:serviceaccount:payments:*.");
        }

        for (var j = 0; j < policy.Subjects.Count; j++)
        {
            if (ApiGlob.SubjectProblem(policy.Subjects[j]) is { } problem)
            {
                failures.Add($"{key}:Subjects:{j} is {Given(policy.Subjects[j])}, which is not an identity glob: {problem}.");
            }
        }

        if (policy.Actions.Count == 0)
        {
            failures.Add($"{key}:Actions is empty; list at least one of {actions}.");
        }

        for (var j = 0; j < policy.Actions.Count; j++)
        {
            if (!ApiAction.All.Contains(policy.Actions[j], StringComparer.OrdinalIgnoreCase))
            {
                failures.Add($"{key}:Actions:{j} is {Given(policy.Actions[j])}, which is not an action; use {actions}.");
            }
        }

        var onSecrets = ApiAction.All.FirstOrDefault(a => ApiAction.ActsOnSecrets(a) && policy.Actions.Contains(a, StringComparer.OrdinalIgnoreCase));
        if (policy.Secrets.Count == 0 && onSecrets is not null)
        {
            failures.Add($"{key}:Secrets is empty, but {key}:Actions holds '{onSecrets}', which acts on secrets; list at least one secret name glob, for example payments/** (or ** for every secret).");
        }

        for (var j = 0; j < policy.Secrets.Count; j++)
        {
            if (ApiGlob.SecretProblem(policy.Secrets[j]) is { } problem)
            {
                failures.Add($"{key}:Secrets:{j} is {Given(policy.Secrets[j])}, which is not a secret name glob: {problem}.");
            }
        }
    }

    private string? TlsProblem(TrousseauApiTlsOptions tls)
    {
        var hasCertificate = !string.IsNullOrWhiteSpace(tls.CertFile);
        var hasKey = !string.IsNullOrWhiteSpace(tls.KeyFile);
        var cert = Key($"Tls:{nameof(TrousseauApiTlsOptions.CertFile)}");
        var key = Key($"Tls:{nameof(TrousseauApiTlsOptions.KeyFile)}");
        if (hasCertificate != hasKey)
        {
            return hasCertificate
                ? $"{key} is not set; with {cert} set it must name the PEM private key of that certificate."
                : $"{cert} is not set; with {key} set it must name the PEM certificate of that key.";
        }

        if (!hasCertificate)
        {
            return string.IsNullOrWhiteSpace(tls.ClientCaFile)
                ? null
                : $"{Key($"Tls:{nameof(TrousseauApiTlsOptions.ClientCaFile)}")} is set, but client certificates are asked for only over TLS: set {cert} and {key} too.";
        }

        try
        {
            ApiTlsMaterial.Load(tls, Key("Tls")).Dispose();
            return null;
        }
        catch (ApiTlsFileException e)
        {
            return e.Message;
        }
    }

    private static string Given(string? value) => value is null ? "not set" : $"'{value}'";

    private string Key(string relative) => $"{sectionPath}:{relative}";
}
