using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Checks <c>Api:Auth:Mode</c> before the configuration binder converts it, whose own error for a misspelt mode names
/// the enum type rather than the modes a user can write.
/// </summary>
internal static class ApiAuthModeSetting
{
    /// <summary>Throws, naming the key, the value and the modes, when <paramref name="mode"/> holds no mode.</summary>
    /// <param name="mode">The <c>Api:Auth:Mode</c> section.</param>
    public static void Check(IConfigurationSection mode)
    {
        if (mode.Value is { } value && !(Enum.TryParse<TrousseauApiAuthMode>(value, ignoreCase: true, out var parsed) && Enum.IsDefined(parsed)))
        {
            throw new OptionsValidationException(
                Options.DefaultName,
                typeof(TrousseauApiOptions),
                [$"{mode.Path} is '{value}', which is not one of token, kubernetes, none (case-insensitive)."]);
        }
    }
}
