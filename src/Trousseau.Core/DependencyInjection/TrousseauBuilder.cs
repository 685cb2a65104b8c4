using Microsoft.Extensions.Configuration;
using Trousseau;

namespace Microsoft.Extensions.DependencyInjection;

internal sealed class TrousseauBuilder(IServiceCollection services, IConfigurationSection? configuration) : ITrousseauBuilder
{
    public IServiceCollection Services { get; } = services;

    /// <summary>
    /// The section this call gave, else the one another <c>AddTrousseau</c> call gave, before or after this one: read
    /// when a service is made, it names that section's keys whichever call came first.
    /// </summary>
    public IConfigurationSection? Configuration =>
        configuration ?? TrousseauSectionPath.RegisteredIn(Services)?.Section;
}
