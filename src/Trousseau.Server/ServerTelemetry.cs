using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Trousseau.Server;

/// <summary>
/// trousseaud's OpenTelemetry: Trousseau's, ASP.NET Core's and HttpClient's metrics on <c>/metrics</c> for
/// Prometheus; over OTLP too, traces with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or <c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>
/// set, metrics with <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> or <c>OTEL_EXPORTER_OTLP_METRICS_ENDPOINT</c> set, the exporter
/// reading the standard <c>OTEL_*</c> settings (protocol, headers, sampler) from the environment or the configuration
/// files, as these switches do. The service is <c>trousseaud</c> unless <c>OTEL_SERVICE_NAME</c>, or a
/// <c>service.name</c> in <c>OTEL_RESOURCE_ATTRIBUTES</c>, names it.
/// </summary>
internal static class ServerTelemetry
{
    public const string OtlpEndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";
    private const string OtlpTracesEndpointVariable = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
    private const string OtlpMetricsEndpointVariable = "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT";
    private const string OtlpHeadersVariable = "OTEL_EXPORTER_OTLP_HEADERS";

    /// <summary>The header the exporter adds to its own, named so (the case counts): one given again aborts the start.</summary>
    private const string ExporterUserAgent = "User-Agent";

    /// <summary>
    /// How long a stop gives the exporters to send what they still hold, traces and metrics at once, in place of the
    /// SDK's 5 s a signal: a collector that never answers would otherwise hold the stop up about 12 s of the 30 s
    /// Kubernetes gives a pod to stop.
    /// </summary>
    public static readonly TimeSpan ExportAtStop = TimeSpan.FromSeconds(2);

    /// <summary>The <c>url.path</c> of a request span that matched no route.</summary>
    private const string RedactedPath = "Redacted";

    public static void Add(WebApplicationBuilder builder)
    {
        var endpoint = OtlpEndpoint(OtlpEndpointVariable, builder.Configuration[OtlpEndpointVariable], "http://collector:4318");
        var tracesEndpoint = OtlpEndpoint(OtlpTracesEndpointVariable, builder.Configuration[OtlpTracesEndpointVariable], "http://collector:4318/v1/traces");
        var metricsEndpoint = OtlpEndpoint(OtlpMetricsEndpointVariable, builder.Configuration[OtlpMetricsEndpointVariable], "http://collector:4318/v1/metrics");
        var otlpTraces = endpoint is not null || tracesEndpoint is not null;
        var otlpMetrics = endpoint is not null || metricsEndpoint is not null;
        if (otlpTraces || otlpMetrics)
        {
            CheckOtlpHeaders(builder.Configuration[OtlpHeadersVariable]);
        }

        var telemetry = builder.Services.AddOpenTelemetry();

        // The SDK reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES before this default; read again after it, they
        // override it, as the OpenTelemetry specification has them do.
        telemetry.ConfigureResource(resource => resource
            .AddService(serviceName: "trousseaud", serviceVersion: ServerUsage.Version)
            .AddEnvironmentVariableDetector());

        telemetry.WithMetrics(metrics =>
        {
            metrics.AddTrousseauInstrumentation().AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddPrometheusExporter();
            if (otlpMetrics)
            {
                metrics.AddOtlpExporter(otlp => UseSignalEndpoint(otlp, metricsEndpoint));
            }
        });

        // Without an exporter nobody reads spans, so none are recorded.
        if (otlpTraces)
        {
            telemetry.WithTracing(tracing => tracing
                .AddTrousseauInstrumentation()
                .AddAspNetCoreInstrumentation(aspNetCore =>
                {
                    aspNetCore.EnrichWithHttpRequest = ServerAsListening;
                    aspNetCore.EnrichWithHttpResponse = PathAsRoute;
                })
                .AddHttpClientInstrumentation()
                .AddOtlpExporter(otlp => UseSignalEndpoint(otlp, tracesEndpoint)));
        }
    }

    /// <summary>
    /// A signal's own endpoint (<c>OTEL_EXPORTER_OTLP_TRACES_ENDPOINT</c>, <c>..._METRICS_ENDPOINT</c>) is used as
    /// given, path included, ahead of <c>OTEL_EXPORTER_OTLP_ENDPOINT</c>, as the OpenTelemetry specification says; the
    /// exporter reads only the latter by itself.
    /// </summary>
    private static void UseSignalEndpoint(OtlpExporterOptions otlp, Uri? endpoint)
    {
        if (endpoint is not null)
        {
            otlp.Endpoint = endpoint;
        }
    }

    /// <summary>
    /// An OTLP endpoint setting, checked here since the exporter would pass over a value that is no URL and export
    /// nowhere, saying nothing, and would never send a user name and password written in the URL. A value with an
    /// <c>@</c>, where a password may be, is not shown.
    /// </summary>
    private static Uri? OtlpEndpoint(string variable, string? value, string example)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (!Uri.TryCreate(value, UriKind.Absolute, out var endpoint) || (endpoint.Scheme != Uri.UriSchemeHttp && endpoint.Scheme != Uri.UriSchemeHttps))
        {
            var given = value.Contains('@', StringComparison.Ordinal) ? "(not shown, as it may hold a password)" : $"is '{value}'; it";
            throw new InvalidConfigurationException($"{variable} {given} must be an http:// or https:// URL, for example {example}.");
        }

        return endpoint.UserInfo.Length == 0
            ? endpoint
            : throw new InvalidConfigurationException(
                $"{variable} has a user name or password, which the exporter never sends; give the collector's credentials in {OtlpHeadersVariable} (Authorization=Basic ...), and the URL without them. The URL is not shown.");
    }

    /// <summary>
    /// Checks <c>OTEL_EXPORTER_OTLP_HEADERS</c> as the exporter reads it (URL-decoded, then <c>name=value</c> entries
    /// separated by commas, an empty last one passed over) and as each export adds it to its request: the exporter
    /// would abort the start with its stack trace on an entry with no <c>=</c> or a name given twice, and fail every
    /// export, saying nothing, on a name or value a request cannot carry; <c>User-Agent</c> is its own. The line names
    /// the entry by its place, never its name or value, where a credential may be (<c>Authorization: Bearer TOKEN</c>
    /// has no <c>=</c>).
    /// </summary>
    private static void CheckOtlpHeaders(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return;
        }

        var entries = Uri.UnescapeDataString(value).Split(',');
        var count = entries[^1].Length == 0 ? entries.Length - 1 : entries.Length;
        var places = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var place = 1; place <= count; place++)
        {
            var entry = entries[place - 1];
            var equals = entry.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                throw InvalidOtlpHeaders($"its entry {place} has no '='");
            }

            var name = entry[..equals].Trim();
            if (name == ExporterUserAgent)
            {
                throw InvalidOtlpHeaders($"its entry {place} names {ExporterUserAgent}, which the exporter sends itself");
            }

            if (!places.TryAdd(name, place))
            {
                throw InvalidOtlpHeaders($"its entry {place} names a header entry {places[name]} names already");
            }

            using var request = new HttpRequestMessage();
            if (name.Length == 0 || !request.Headers.TryAddWithoutValidation(name, string.Empty))
            {
                throw InvalidOtlpHeaders($"the name of its entry {place} is not an HTTP request header name");
            }

            request.Headers.Remove(name);
            try
            {
                request.Headers.Add(name, entry[(equals + 1)..].Trim());
            }
            catch (FormatException)
            {
                throw InvalidOtlpHeaders($"the value of its entry {place} is not one an HTTP header can carry (a line break, say)");
            }
        }
    }

    private static InvalidConfigurationException InvalidOtlpHeaders(string why) => new(
        $"{OtlpHeadersVariable} is not a list of name=value pairs separated by commas: {why}; write each header as name=value, as in Authorization=Bearer TOKEN,X-Tenant=blue (the variable's value is not shown).");

    /// <summary>
    /// Shuts the tracer and meter providers down once the host has stopped, both at once, each given
    /// <see cref="ExportAtStop"/> to export what it holds; a signal whose export did not finish by then is named in a
    /// warning, and what it held is dropped. The providers' own shutdown when the services are disposed then has
    /// nothing left to do.
    /// </summary>
    public static async Task StopAsync(IServiceProvider services, ILogger logger)
    {
        var time = services.GetService<TimeProvider>() ?? TimeProvider.System;
        var tracer = services.GetService<TracerProvider>();
        var meter = services.GetService<MeterProvider>();
        var finished = await Task.WhenAll(
            Task.Run(() => tracer is null || Finished(time, tracer.Shutdown)),
            Task.Run(() => meter is null || Finished(time, meter.Shutdown))).ConfigureAwait(false);
        var signals = (finished[0], finished[1]) switch
        {
            (false, false) => "traces and metrics",
            (false, true) => "traces",
            (true, false) => "metrics",
            _ => null,
        };
        if (signals is not null)
        {
            Log.ExportCutAtStop(logger, signals, ExportAtStop.TotalSeconds);
        }
    }

    /// <summary>
    /// Whether a provider's shutdown exported everything, that is, ended before <see cref="ExportAtStop"/>: it waits
    /// that long for an exporter that is not done. What it returns does not tell: the trace processor reports success
    /// when it stopped waiting for its exporter, and the meter provider, with Prometheus' reader beside the OTLP one,
    /// reports failure even when both are done.
    /// </summary>
    private static bool Finished(TimeProvider time, Func<int, bool> shutdown)
    {
        var started = time.GetTimestamp();
        _ = shutdown((int)ExportAtStop.TotalMilliseconds);
        return time.GetElapsedTime(started) < ExportAtStop;
    }

    /// <summary>Serves <c>GET /metrics</c> in the Prometheus text format, without authentication.</summary>
    public static void MapMetrics(WebApplication app) => app.MapPrometheusScrapingEndpoint();

    /// <summary>
    /// OpenTelemetry takes a request span's <c>server.address</c> and <c>server.port</c> from the request's <c>Host</c>
    /// header, which the client writes as it likes: any name, one per request, in every span a trace backend indexes.
    /// The span names the IP address and port the connection came in on instead, one of those trousseaud listens on
    /// (the interface's own address under <c>0.0.0.0</c>); a connection with no IP address (a Unix socket) has neither.
    /// </summary>
    private static void ServerAsListening(System.Diagnostics.Activity activity, HttpRequest request)
    {
        var connection = request.HttpContext.Connection;
        var address = connection.LocalIpAddress is { IsIPv4MappedToIPv6: true } mapped ? mapped.MapToIPv4() : connection.LocalIpAddress;
        activity.SetTag("server.address", address?.ToString());
        activity.SetTag("server.port", address is null ? null : connection.LocalPort);
    }

    /// <summary>
    /// A request's path names the secret (<c>/v1/secrets/prod/db</c>); the span keeps the route
    /// (<c>/v1/secrets/{**name}</c>) instead, so that no span carries a secret's name. The route is the one routing
    /// chose, also for a request that failed and was answered by the exception handler, which clears the endpoint
    /// before it answers. A request that matched no route (404, a method the route does not take, 405) has none to
    /// keep: its path becomes <see cref="RedactedPath"/>, as OpenTelemetry writes the values of a query.
    /// </summary>
    private static void PathAsRoute(System.Diagnostics.Activity activity, HttpResponse response)
    {
        var context = response.HttpContext;
        var endpoint = context.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? context.GetEndpoint();
        activity.SetTag("url.path", endpoint is RouteEndpoint { RoutePattern.RawText: { } route } ? route : RedactedPath);
    }
}
