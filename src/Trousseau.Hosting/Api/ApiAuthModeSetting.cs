using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Checks <c>Api:Auth:Mode</c> before the configuration binder converts it, whose own error for a misspelt mode names
/// the enum type rather than the modes a user can write, and which takes a number or a list of names for a mode.
/// </summary>
internal static class ApiAuthModeSetting
{
    /// <summary>Throws, naming the key, the value and the modes, when <paramref name="mode"/> holds no mode.</summary>
    /// <param name="mode">The <c>Api:Auth:Mode</c> section.</param>
    public static void Check(IConfigurationSection mode)
    {
        // By name only: the binder would also take a number ('1' is None, turning authentication off) or a list of
        // names ('token,kubernetes', read as their bitwise or).
        if (mode.Value is { } value && !Enum.GetNames<TrousseauApiAuthMode>().Contains(value.Trim(), StringComparer.OrdinalIgnoreCase))
        {
            throw new OptionsValidationException(
                Options.DefaultName,
                typeof(TrousseauApiOptions),
                [$"{mode.Path} is '{value}', which is not one of token, kubernetes, none (case-insensitive)."]);
        }
    }
}
