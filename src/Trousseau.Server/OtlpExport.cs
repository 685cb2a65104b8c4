using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace Trousseau.Server;

/// <summary>
/// Exports Trousseau's traces and metrics with OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; the exporter
/// reads the standard <c>OTEL_*</c> variables (protocol, headers, service name).
/// </summary>
internal sealed class OtlpExport : IDisposable
{
    private readonly TracerProvider _traces;
    private readonly MeterProvider _metrics;

    private OtlpExport()
    {
        var traces = Sdk.CreateTracerProviderBuilder().AddTrousseauInstrumentation().AddOtlpExporter();

        // trousseaud records no HTTP spans of its own, so the request activity above Trousseau's spans is never
        // sampled; sample Trousseau's spans themselves unless the operator chose a sampler.
        if (string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_TRACES_SAMPLER")))
        {
            traces.SetSampler(new AlwaysOnSampler());
        }

        _traces = traces.Build();
        _metrics = Sdk.CreateMeterProviderBuilder().AddTrousseauInstrumentation().AddOtlpExporter().Build();
    }

    public static OtlpExport? StartIfConfigured() =>
        string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("OTEL_EXPORTER_OTLP_ENDPOINT")) ? null : new OtlpExport();

    public void Dispose()
    {
        _traces.ForceFlush();
        _metrics.ForceFlush();
        _traces.Dispose();
        _metrics.Dispose();
    }
}
