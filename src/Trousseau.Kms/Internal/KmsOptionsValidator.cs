using Microsoft.Extensions.Options;

namespace Trousseau.Kms.Internal;

/// <summary>
/// Checks the settings of <see cref="KmsOptions"/> that depend on each other at start. Each failure names the
/// configuration key, the value given and what would be valid. <see cref="KmsOptionsAnnotationsValidator"/> checks
/// the rest.
/// </summary>
internal sealed class KmsOptionsValidator(string sectionPath) : IValidateOptions<KmsOptions>
{
    public ValidateOptionsResult Validate(string? name, KmsOptions options)
    {
        var failures = new List<string>();
        if (options.Enabled && string.IsNullOrWhiteSpace(options.Socket))
        {
            var given = options.Socket is null ? "not set" : $"'{options.Socket}'";
            failures.Add($"{Key("Socket")} is {given}; while {Key("Enabled")} is true it must be the path of the Unix socket kube-apiserver calls (for example /var/run/kmsplugin/socket.sock), or set {Key("Enabled")} to false.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private string Key(string relative) => $"{sectionPath}:{relative}";
}
