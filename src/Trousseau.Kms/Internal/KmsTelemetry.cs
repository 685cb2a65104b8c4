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
    // The six methods' tag values, split once, and each method's metric tags for every gRPC status built once: a
    // call neither splits its path nor boxes its status code.
    private static readonly FrozenDictionary<string, MethodTags> Methods = new[]
    {
        "/v2.KeyManagementService/Status", "/v2.KeyManagementService/Encrypt", "/v2.KeyManagementService/Decrypt",
        "/v1beta1.KeyManagementService/Version", "/v1beta1.KeyManagementService/Encrypt", "/v1beta1.KeyManagementService/Decrypt",
    }.ToFrozenDictionary(path => path, path => new MethodTags(path[1..path.LastIndexOf('/')], path[(path.LastIndexOf('/') + 1)..]), StringComparer.Ordinal);

    private static readonly MethodTags Unknown = new("unknown", "unknown");

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
        if (!_source.HasListeners())
        {
            return null;
        }

        var activity = _source.StartActivity("trousseau.kms.request", ActivityKind.Server);
        if (activity is not null)
        {
            var names = Find(path);
            activity.SetTag("rpc.system", "grpc");
            activity.SetTag("rpc.service", names.Service);
            activity.SetTag("rpc.method", names.Method);
        }

        return activity;
    }

    /// <summary>Ends a call: its status on the span (an error only when the server failed), one count and one duration on the meter.</summary>
    public void Record(Activity? activity, string path, StatusCode status, long started)
    {
        var tags = Find(path).For(status);
        _requests.Add(1, tags);
        _duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        if (activity is not null)
        {
            activity.SetTag("rpc.grpc.status_code", tags[^1].Value);
            if (IsServerError(status))
            {
                activity.SetStatus(ActivityStatusCode.Error, status.ToString());
            }
        }
    }

    /// <summary>
    /// Whether <paramref name="status"/> says the server failed, which the gRPC semantic conventions mark as an error on
    /// a server span; the others (a bad argument, a key id not issued here, a call the caller cancelled) leave the span
    /// unset, as a 4xx does an HTTP server span.
    /// </summary>
    private static bool IsServerError(StatusCode status) => status is StatusCode.Unknown or StatusCode.DeadlineExceeded
        or StatusCode.Unimplemented or StatusCode.Internal or StatusCode.Unavailable or StatusCode.DataLoss;

    // Only the KMS services' own methods become tag values, so a caller cannot grow the series with made-up paths.
    private static MethodTags Find(string path) => Methods.GetValueOrDefault(path, Unknown);

    /// <summary>One method's tag values, and its metric tags for each gRPC status (0 to 16).</summary>
    private sealed class MethodTags
    {
        private readonly KeyValuePair<string, object?>[][] _byStatus;

        public MethodTags(string service, string method)
        {
            (Service, Method) = (service, method);
            _byStatus = Enumerable.Range(0, (int)StatusCode.Unauthenticated + 1).Select(status => Build((StatusCode)status)).ToArray();
        }

        public string Service { get; }

        public string Method { get; }

        /// <summary>The four metric tags for <paramref name="status"/>, the status code last.</summary>
        public ReadOnlySpan<KeyValuePair<string, object?>> For(StatusCode status) =>
            (uint)status < (uint)_byStatus.Length ? _byStatus[(int)status] : Build(status);

        private KeyValuePair<string, object?>[] Build(StatusCode status) =>
            [new("rpc.system", "grpc"), new("rpc.service", Service), new("rpc.method", Method), new("rpc.grpc.status_code", (int)status)];
    }
}
