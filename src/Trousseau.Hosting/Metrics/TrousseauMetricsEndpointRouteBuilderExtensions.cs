using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Hosting.Metrics;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Serves Trousseau's metrics for Prometheus.</summary>
public static class TrousseauMetricsEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET /metrics</c> (or <paramref name="pattern"/>): every instrument of the <c>Trousseau</c> meter in the
    /// Prometheus text format. Collection starts when this is called.
    /// </summary>
    /// <param name="endpoints">The route builder.</param>
    /// <param name="pattern">The route.</param>
    /// <returns>The endpoint, for further configuration.</returns>
    public static IEndpointConventionBuilder MapTrousseauMetrics(this IEndpointRouteBuilder endpoints, string pattern = "/metrics")
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var metrics = endpoints.ServiceProvider.GetService<PrometheusMetrics>()
            ?? throw new InvalidOperationException("Call services.AddTrousseauMetrics() before MapTrousseauMetrics().");
        return endpoints.MapGet(pattern, () => Results.Text(metrics.Render(), "text/plain; version=0.0.4; charset=utf-8"));
    }
}
