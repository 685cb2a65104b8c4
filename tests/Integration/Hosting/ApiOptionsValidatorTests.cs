using Microsoft.Extensions.DependencyInjection;
using Trousseau.Hosting;
using Trousseau.Hosting.Api;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>
/// The rules of the API's settings that tie one setting to another, each broken alone: the check names exactly the
/// rule broken, and the same settings with the other half given pass. (Through trousseaud, the same lines end its
/// start with exit 2: <c>ServerStartupTests</c>, <c>TlsTests</c>, <c>ApiPolicySettingsTests</c>, <c>SettingValueTests</c>.)
/// </summary>
public sealed class ApiOptionsValidatorTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Fact]
    public void Token_mode_needs_a_token_file_and_the_other_modes_do_not()
    {
        Assert.Equal(
            ["Trousseau:Api:Auth:TokenFile is not set; while Trousseau:Api:Auth:Mode is token it must be the path of the bearer token file (for example /var/lib/trousseau/api.token), or set Trousseau:Api:Auth:Mode to kubernetes or none."],
            Failures(new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.Token } }));
        Assert.Empty(Failures(new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.Token, TokenFile = "/var/lib/trousseau/api.token" } }));
        Assert.Empty(Failures(new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.None } }));
    }

    [Fact]
    public void Kubernetes_mode_needs_a_role_and_the_vault_key_provider_each_named_alone()
    {
        const string needsVault = "Trousseau:Api:Auth:Mode is 'kubernetes', which checks callers through Vault and needs the Vault key provider; set Trousseau:KeyProvider to vault, or set Trousseau:Api:Auth:Mode to token or none.";

        Assert.Equal([needsVault], Failures(new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.Kubernetes, KubernetesRole = "api-callers" } }));
        Assert.Equal(
            [
                "Trousseau:Api:Auth:KubernetesRole is not set; while Trousseau:Api:Auth:Mode is kubernetes it must name the Vault Kubernetes auth role callers log in to (for example api-callers), or set Trousseau:Api:Auth:Mode to token or none.",
                needsVault,
            ],
            Failures(new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.Kubernetes } }));
    }

    [Fact]
    public void A_policy_with_an_action_on_secrets_needs_secret_globs_and_one_with_only_actions_on_no_secret_does_not()
    {
        var onSecrets = new TrousseauApiPolicy { Subjects = { "admin" }, Actions = { "keys", "Read" } };
        var onNoSecret = new TrousseauApiPolicy { Subjects = { "admin" }, Actions = { "keys", "encrypt", "decrypt" } };
        var noSubject = new TrousseauApiPolicy { Secrets = { "**" }, Actions = { "read" } };
        var noAction = new TrousseauApiPolicy { Subjects = { "admin" }, Secrets = { "**" } };

        Assert.Equal(
            [
                "Trousseau:Api:Policies:0:Secrets is empty, but Trousseau:Api:Policies:0:Actions holds 'read', which acts on secrets; list at least one secret name glob, for example payments/** (or ** for every secret).",
                "Trousseau:Api:Policies:2:Subjects is empty; list at least one identity glob, for example admin or system:serviceaccount:payments:*.",
                "Trousseau:Api:Policies:3:Actions is empty; list at least one of read, list, create, update, delete, generate, keys, encrypt, decrypt.",
            ],
            Failures(WithPolicies(onSecrets, onNoSecret, noSubject, noAction)));
    }

    [Fact]
    public void A_tls_certificate_needs_its_key_the_key_its_certificate_and_a_client_ca_a_certificate()
    {
        Assert.Equal(
            ["Trousseau:Api:Tls:KeyFile is not set; with Trousseau:Api:Tls:CertFile set it must name the PEM private key of that certificate."],
            Failures(new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.None }, Tls = { CertFile = "/etc/trousseau/tls.crt" } }));
        Assert.Equal(
            ["Trousseau:Api:Tls:CertFile is not set; with Trousseau:Api:Tls:KeyFile set it must name the PEM certificate of that key."],
            Failures(new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.None }, Tls = { KeyFile = "/etc/trousseau/tls.key" } }));
        Assert.Equal(
            ["Trousseau:Api:Tls:ClientCaFile is set, but client certificates are asked for only over TLS: set Trousseau:Api:Tls:CertFile and Trousseau:Api:Tls:KeyFile too."],
            Failures(new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.None }, Tls = { ClientCaFile = "/etc/trousseau/clients-ca.pem" } }));
    }

    [Fact]
    public void Tls_files_that_do_not_exist_are_named_with_their_full_paths()
    {
        using var temp = new TempDirectory();
        var certFile = temp.Combine("absent.crt");

        var failure = Assert.Single(Failures(new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.None }, Tls = { CertFile = certFile, KeyFile = temp.Combine("absent.key") } }));

        Assert.StartsWith($"Trousseau:Api:Tls:CertFile names {certFile}, which does not exist", failure, StringComparison.Ordinal);
    }

    private static TrousseauApiOptions WithPolicies(params TrousseauApiPolicy[] policies)
    {
        var options = new TrousseauApiOptions { Auth = { Mode = TrousseauApiAuthMode.None } };
        foreach (var policy in policies)
        {
            options.Policies.Add(policy);
        }

        return options;
    }

    private IEnumerable<string> Failures(TrousseauApiOptions options) =>
        new TrousseauApiOptionsValidator("Trousseau:Api", "Trousseau:KeyProvider", _services).Validate(null, options).Failures ?? [];
}
