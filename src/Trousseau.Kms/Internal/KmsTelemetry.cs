using System.Diagnostics;
using System.Diagnostics.Metrics;
using Grpc.Core;

namespace Trousseau.Kms.Internal;

/// <summary>KMS request spans and metrics on the <c>Trousseau</c> source and meter, by method and gRPC status.</summary>
internal static class KmsTelemetry
{
    private static readonly ActivitySource Source = new(TrousseauDiagnostics.ActivitySourceName);

    private static readonly Meter Meter = new(TrousseauDiagnostics.MeterName);

    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("trousseau.kms.requests", unit: "{request}", description: "KMS plugin calls, by method and gRPC status.");

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("trousseau.kms.request.duration", unit: "s", description: "KMS plugin call duration, by method and gRPC status.");

    /// <summary>Starts the server span of one KMS call, <c>trousseau.kms.request</c>.</summary>
    public static Activity? Start(string? path)
    {
        var activity = Source.StartActivity("trousseau.kms.request", ActivityKind.Server);
        activity?.SetTag("rpc.system", "grpc");
        activity?.SetTag("rpc.method", Method(path));
        return activity;
    }

    /// <summary>Ends a call: its status on the span, one count and one duration on the meter.</summary>
    public static void Record(Activity? activity, string? path, StatusCode status, long started)
    {
        var tags = new TagList { { "method", Method(path) }, { "grpc.status", StatusName(status) } };
        Requests.Add(1, tags);
        Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
        if (activity is not null)
        {
            activity.SetTag("rpc.grpc.status_code", (int)status);
            if (status != StatusCode.OK)
            {
                activity.SetStatus(ActivityStatusCode.Error, status.ToString());
            }
        }
    }

    // The series keep the names they had before grpc-dotnet: "Ok", then the status names as gRPC spells them.
    private static string StatusName(StatusCode status) => status == StatusCode.OK ? "Ok" : status.ToString();

    // Only known methods become tag values, so a caller cannot grow the series with made-up paths.
    private static string Method(string? path) =>
        path is "/v2.KeyManagementService/Status" or "/v2.KeyManagementService/Encrypt" or "/v2.KeyManagementService/Decrypt"
            or "/v1beta1.KeyManagementService/Version" or "/v1beta1.KeyManagementService/Encrypt" or "/v1beta1.KeyManagementService/Decrypt"
            ? path.TrimStart('/')
            : "unknown";
}
