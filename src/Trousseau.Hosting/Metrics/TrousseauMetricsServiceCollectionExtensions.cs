using Microsoft.Extensions.DependencyInjection.Extensions;
using Trousseau.Hosting.Metrics;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the collector behind <c>MapTrousseauMetrics()</c>.</summary>
public static class TrousseauMetricsServiceCollectionExtensions
{
    /// <summary>Registers the in-process collector of the <c>Trousseau</c> meter that <c>/metrics</c> renders.</summary>
    /// <param name="services">The service collection.</param>
    /// <returns>The service collection.</returns>
    public static IServiceCollection AddTrousseauMetrics(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton<PrometheusMetrics>();
        return services;
    }
}
