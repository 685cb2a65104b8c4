using Microsoft.Extensions.Options;

namespace Trousseau.Kms.Internal;

/// <summary>
/// Checks <see cref="KmsOptions"/> at start. Each failure names the configuration key, the value given and what
/// would be valid.
/// </summary>
internal sealed class KmsOptionsValidator(string sectionPath) : IValidateOptions<KmsOptions>
{
    private static readonly TimeSpan MaxProviderTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MaxStatusCacheDuration = TimeSpan.FromSeconds(50);

    public ValidateOptionsResult Validate(string? name, KmsOptions options)
    {
        var failures = new List<string>();
        if (options.Enabled && string.IsNullOrWhiteSpace(options.Socket))
        {
            var given = options.Socket is null ? "not set" : $"'{options.Socket}'";
            failures.Add($"{Key("Socket")} is {given}; while {Key("Enabled")} is true it must be the path of the Unix socket kube-apiserver calls (for example /var/run/kmsplugin/socket.sock), or set {Key("Enabled")} to false.");
        }

        if (options.ProviderTimeout <= TimeSpan.Zero || options.ProviderTimeout > MaxProviderTimeout)
        {
            failures.Add($"{Key("ProviderTimeout")} is {options.ProviderTimeout:c}; it must be above {TimeSpan.Zero:c} and at most {MaxProviderTimeout:c}.");
        }

        if (options.StatusCacheDuration < TimeSpan.Zero || options.StatusCacheDuration > MaxStatusCacheDuration)
        {
            failures.Add($"{Key("StatusCacheDuration")} is {options.StatusCacheDuration:c}; it must be at least {TimeSpan.Zero:c} and at most {MaxStatusCacheDuration:c}.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private string Key(string relative) => $"{sectionPath}:{relative}";
}
