using Microsoft.Extensions.Configuration;

namespace Microsoft.Extensions.DependencyInjection;

internal sealed class TrousseauBuilder(IServiceCollection services, IConfigurationSection? configuration) : ITrousseauBuilder
{
    public IServiceCollection Services { get; } = services;

    public IConfigurationSection? Configuration { get; } = configuration;
}
