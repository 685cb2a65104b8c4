using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Trousseau.Server;

/// <summary>
/// trousseaud's OpenTelemetry: Trousseau's, ASP.NET Core's and HttpClient's metrics on <c>/metrics</c> for
/// Prometheus; with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> set, traces and metrics over OTLP too, the exporter reading the
/// standard <c>OTEL_*</c> variables (protocol, headers, sampler). The service is <c>trousseaud</c> unless
/// <c>OTEL_SERVICE_NAME</c> names it.
/// </summary>
internal static class ServerTelemetry
{
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";
    public const string ServiceNameVariable = "OTEL_SERVICE_NAME";

    public static void Add(WebApplicationBuilder builder)
    {
        var otlp = !string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(OtlpEndpointVariable));
        var telemetry = builder.Services.AddOpenTelemetry();
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable(ServiceNameVariable)))
        {
            telemetry.ConfigureResource(resource => resource.AddService(serviceName: "trousseaud", serviceVersion: ServerUsage.Version));
        }

        telemetry.WithMetrics(metrics =>
        {
            metrics.AddTrousseauInstrumentation().AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddPrometheusExporter();
            if (otlp)
            {
                metrics.AddOtlpExporter();
            }
        });

        // Without an exporter nobody reads spans, so none are recorded.
        if (otlp)
        {
            telemetry.WithTracing(tracing => tracing
                .AddTrousseauInstrumentation()
                .AddAspNetCoreInstrumentation(aspNetCore => aspNetCore.EnrichWithHttpResponse = PathAsRoute)
                .AddHttpClientInstrumentation()
                .AddOtlpExporter());
        }
    }

    /// <summary>Serves <c>GET /metrics</c> in the Prometheus text format, without authentication.</summary>
    public static void MapMetrics(WebApplication app) => app.MapPrometheusScrapingEndpoint();

    /// <summary>
    /// A request's path names the secret (<c>/v1/secrets/prod/db</c>); the span keeps the route
    /// (<c>/v1/secrets/{**name}</c>) instead, so that no span carries a secret's name.
    /// </summary>
    private static void PathAsRoute(System.Diagnostics.Activity activity, HttpResponse response)
    {
        if (response.HttpContext.GetEndpoint() is RouteEndpoint { RoutePattern.RawText: { } route })
        {
            activity.SetTag("url.path", route);
        }
    }
}
