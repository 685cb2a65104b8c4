using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Trousseau.Hosting.Api;
using Trousseau.Hosting.Internal;

namespace Microsoft.AspNetCore.Builder;

/// <summary>Maps Trousseau's liveness and readiness endpoints.</summary>
public static class TrousseauHealthEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>GET /healthz</c> (200 while the process lives; it asks no dependency) and <c>GET /readyz</c> (200 or 503,
    /// with a JSON entry per check tagged <see cref="TrousseauHealthChecksBuilderExtensions.Tag"/>, answered from the
    /// background monitor's last result). Neither needs authentication; each check's description (which may name
    /// addresses, paths and key ids) is shown only to a caller that presents the API token, or to a loopback caller
    /// when the API's authentication mode is <c>none</c>. Register the checks first with
    /// <c>services.AddHealthChecks().AddTrousseau()</c>.
    /// </summary>
    /// <param name="endpoints">The endpoint route builder.</param>
    /// <returns>The endpoint route builder.</returns>
    public static IEndpointRouteBuilder MapTrousseauHealth(this IEndpointRouteBuilder endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        // Without the checks /readyz would have no check to fail and answer 200 whatever the key provider and the store.
        InProcessRegistration.RequireRegistered(
            endpoints.ServiceProvider,
            typeof(DependencyMonitor),
            "MapTrousseauHealth needs Trousseau's health checks: call services.AddHealthChecks().AddTrousseau() first.");

        endpoints.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync });
        endpoints.MapHealthChecks("/readyz", new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(TrousseauHealthChecksBuilderExtensions.Tag),
            ResponseWriter = WriteAsync,
        });
        return endpoints;
    }

    private static async Task WriteAsync(HttpContext context, HealthReport report)
    {
        var showDetails = HealthDetailsAccess.IsAllowed(context);
        context.Response.ContentType = "application/json";
        context.Response.Headers.CacheControl = "no-store";
        ApiJson.NoSniff(context.Response);
        var writer = new Utf8JsonWriter(context.Response.BodyWriter, ApiJson.WriterOptions);
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartObject();
            writer.WriteString("status", Status(report.Status));
            writer.WriteStartObject("checks");
            foreach (var (name, entry) in report.Entries)
            {
                writer.WriteStartObject(name);
                writer.WriteString("status", Status(entry.Status));
                if (showDetails)
                {
                    writer.WriteString("description", entry.Description);
                }

                writer.WriteNumber("durationMs", Math.Round(entry.Duration.TotalMilliseconds, 1));
                writer.WriteEndObject();
            }

            writer.WriteEndObject();
            writer.WriteEndObject();
        }
    }

    private static string Status(HealthStatus status) => status switch
    {
        HealthStatus.Healthy => "healthy",
        HealthStatus.Degraded => "degraded",
        _ => "unhealthy",
    };
}
