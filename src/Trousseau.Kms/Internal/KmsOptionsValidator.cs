using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Trousseau.Kms.Internal;

/// <summary>
/// Checks the settings of <see cref="KmsOptions"/> that depend on each other, or on the key provider, at start. Each
/// failure names the configuration key, the value given and what would be valid. <see cref="KmsOptionsAnnotationsValidator"/>
/// checks the rest.
/// </summary>
/// <param name="sectionPath">The plugin's section, for example <c>Trousseau:Kms</c>.</param>
/// <param name="services">Where the key provider is looked up, only while the plugin is enabled.</param>
internal sealed class KmsOptionsValidator(string sectionPath, IServiceProvider services) : IValidateOptions<KmsOptions>
{
    public ValidateOptionsResult Validate(string? name, KmsOptions options)
    {
        if (!options.Enabled)
        {
            return ValidateOptionsResult.Success;
        }

        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.Socket))
        {
            var given = options.Socket is null ? "not set" : $"'{options.Socket}'";
            failures.Add($"{Key("Socket")} is {given}; while {Key("Enabled")} is true it must be the path of the Unix socket kube-apiserver calls (for example /var/run/kmsplugin/socket.sock), or set {Key("Enabled")} to false.");
        }

        // A provider with retries of its own (Vault) must finish them within what a KMS call waits for it, itself
        // inside kube-apiserver's 3 s deadline: otherwise the call answers UNAVAILABLE while the retries still run.
        if (services.GetService<IKeyProvider>() is ITimeLimitedKeyProvider provider && provider.CallTimeLimit > options.ProviderTimeout)
        {
            failures.Add(
                $"{provider.CallTimeLimitKey} is {provider.CallTimeLimit:c}, more than {Key("ProviderTimeout")} ({options.ProviderTimeout:c}): "
                + $"a KMS call would give up while the key provider's retries still run. Lower {provider.CallTimeLimitKey} or raise {Key("ProviderTimeout")} (kube-apiserver waits 3 s).");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private string Key(string relative) => $"{sectionPath}:{relative}";
}
