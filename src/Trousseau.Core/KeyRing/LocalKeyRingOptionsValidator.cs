using Microsoft.Extensions.Options;

namespace Trousseau;

/// <summary>
/// Checks <see cref="LocalKeyRingOptions"/> at start. A failure names the configuration key, the value given and
/// what would be valid.
/// </summary>
internal sealed class LocalKeyRingOptionsValidator(string sectionPath) : IValidateOptions<LocalKeyRingOptions>
{
    public ValidateOptionsResult Validate(string? name, LocalKeyRingOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.KeyFile))
        {
            return ValidateOptionsResult.Success;
        }

        var given = options.KeyFile is null ? "not set" : $"'{options.KeyFile}'";
        return ValidateOptionsResult.Fail($"{sectionPath}:KeyFile is {given}; it must be the path of the local key ring file (for example /var/lib/trousseau/local.keyring).");
    }
}
