using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Trousseau.Kms.Grpc;

/// <summary>KMS request metrics on the <c>Trousseau</c> meter, by method and gRPC status.</summary>
internal static class KmsTelemetry
{
    private static readonly Meter Meter = new(TrousseauDiagnostics.MeterName);

    private static readonly Counter<long> Requests = Meter.CreateCounter<long>("trousseau.kms.requests", unit: "{request}", description: "KMS plugin calls, by method and gRPC status.");

    private static readonly Histogram<double> Duration = Meter.CreateHistogram<double>("trousseau.kms.request.duration", unit: "s", description: "KMS plugin call duration, by method and gRPC status.");

    public static void Record(string? path, GrpcStatusCode status, long started)
    {
        // Only known methods become tag values, so a caller cannot grow the series with made-up paths.
        var method = path is "/v2.KeyManagementService/Status" or "/v2.KeyManagementService/Encrypt" or "/v2.KeyManagementService/Decrypt"
            or "/v1beta1.KeyManagementService/Version" or "/v1beta1.KeyManagementService/Encrypt" or "/v1beta1.KeyManagementService/Decrypt"
            ? path.TrimStart('/')
            : "unknown";
        var tags = new TagList { { "method", method }, { "grpc.status", status.ToString() } };
        Requests.Add(1, tags);
        Duration.Record(Stopwatch.GetElapsedTime(started).TotalSeconds, tags);
    }
}
