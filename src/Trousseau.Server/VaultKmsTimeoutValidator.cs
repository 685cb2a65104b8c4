using Microsoft.Extensions.Options;
using Trousseau.Kms;
using Trousseau.Vault;

namespace Trousseau.Server;

/// <summary>
/// With the KMS plugin on and Vault as the key provider, one Vault call's whole time (<c>Vault:Timeout</c>, retries
/// included) must fit in what a KMS call waits for the key provider (<c>Kms:ProviderTimeout</c>, itself inside
/// kube-apiserver's 3 s deadline): otherwise KMS answers UNAVAILABLE while Vault's retries still run.
/// </summary>
internal sealed class VaultKmsTimeoutValidator(IOptions<KmsOptions> kms) : IValidateOptions<VaultOptions>
{
    private const string Section = ServerConfiguration.SectionName;

    public ValidateOptionsResult Validate(string? name, VaultOptions options)
    {
        var provider = kms.Value;
        if (!provider.Enabled || options.Timeout <= provider.ProviderTimeout)
        {
            return ValidateOptionsResult.Success;
        }

        return ValidateOptionsResult.Fail(
            $"{Section}:Vault:Timeout is {options.Timeout:c}, more than {Section}:Kms:ProviderTimeout ({provider.ProviderTimeout:c}): "
            + $"a KMS call would give up while Vault's retries still run. Lower {Section}:Vault:Timeout or raise {Section}:Kms:ProviderTimeout (kube-apiserver waits 3 s).");
    }
}
