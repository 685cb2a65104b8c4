using System.Collections.Frozen;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;

namespace Trousseau.Kms.Internal;

/// <summary>
/// KMS call spans and metrics on <see cref="TrousseauInstrumentation"/>: the <c>trousseau.kms.request</c> server span,
/// the <c>trousseau.kms.requests</c> counter and the <c>trousseau.kms.request.duration</c> histogram, each tagged with
/// the semantic conventions' <c>rpc.system</c>, <c>rpc.service</c>, <c>rpc.method</c> and <c>rpc.grpc.status_code</c>.
/// </summary>
internal sealed class KmsTelemetry
{
    // The six methods' tag values, split once: a call does not allocate them.
    private static readonly FrozenDictionary<string, (string Service, string Method)> Methods = new[]
    {
        "/v2.KeyManagementService/Status", "/v2.KeyManagementService/Encrypt", "/v2.KeyManagementService/Decrypt",
        "/v1beta1.KeyManagementService/Version", "/v1beta1.KeyManagementService/Encrypt", "/v1beta1.KeyManagementService/Decrypt",
    }.ToFrozenDictionary(path => path, path => (path[1..path.LastIndexOf('/')], path[(path.LastIndexOf('/') + 1)..]), StringComparer.Ordinal);

    private readonly ActivitySource _source;
    private readonly Counter<long> _requests;
    private readonly Histogram<double> _duration;

    public KmsTelemetry(TrousseauInstrumentation instrumentation)
    {
        _source = instrumentation.ActivitySource;
        _requests = instrumentation.Meter.CreateCounter<long>("trousseau.kms.requests", unit: "{request}", description: "KMS plugin calls, by service, method and gRPC status.");
        _duration = instrumentation.CreateDurationHistogram("trousseau.kms.request.duration", "KMS plugin call duration, by service, method and gRPC status.");
    }

    /// <summary>Starts the server span of one KMS call, from its path (<c>/v2.KeyManagementService/Encrypt</c>).</summary>
    public Activity? Start(string path)
    {
        var activity = _source.StartActivity("trousseau.kms.request", ActivityKind.Server);
        if (activity is not null)
        {
            var (service, method) = Split(path);
            activity.SetTag("rpc.system", "grpc");
            activity.SetTag("rpc.service", service);
            activity.SetTag("rpc.method", method);
        }

        return activity;
    }

    /// <summary>Ends a call: its status on the span, one count and one duration on the meter.</summary>
    public void Record(Activity? activity, string path, StatusCode status, long started)
    {
        var (service, method) = Split(path);
        var tags = new TagList { { "rpc.system", "grpc" }, { "rpc.service", service }, { "rpc.method", method }, { "rpc.grpc.status_code", (int)status } };
        _requests.Add(1, tags);
        _duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        if (activity is not null)
        {
            activity.SetTag("rpc.grpc.status_code", (int)status);
            if (status != StatusCode.OK)
            {
                activity.SetStatus(ActivityStatusCode.Error, status.ToString());
            }
        }
    }

    // Only the KMS services' own methods become tag values, so a caller cannot grow the series with made-up paths.
    private static (string Service, string Method) Split(string path) =>
        Methods.TryGetValue(path, out var names) ? names : ("unknown", "unknown");
}
