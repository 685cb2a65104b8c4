using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Trousseau;

/// <summary>
/// The configuration path Trousseau's options were bound from, so that validation messages name full keys, and the
/// section itself, from which the backends chosen on a builder without a section bind.
/// </summary>
/// <param name="Value">For example <c>Trousseau</c>.</param>
/// <param name="Section">The section an <c>AddTrousseau</c> call gave, or <see langword="null"/> (then <paramref name="Value"/> is the default name only).</param>
internal sealed record TrousseauSectionPath(string Value, IConfigurationSection? Section)
{
    /// <summary>Whether an <c>AddTrousseau</c> call gave a section.</summary>
    public bool IsBound => Section is not null;

    /// <summary>The path the last <c>AddTrousseau</c> call registered in <paramref name="services"/>, if any.</summary>
    public static TrousseauSectionPath? RegisteredIn(IServiceCollection services) =>
        services.LastOrDefault(d => d.ServiceType == typeof(TrousseauSectionPath))?.ImplementationInstance as TrousseauSectionPath;
}
