using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Trousseau.Internal;

/// <summary>The library's traces and metrics, under <see cref="TrousseauDiagnostics"/>' names. Tags never carry secrets.</summary>
internal static class TrousseauTelemetry
{
    public static readonly ActivitySource Source = new(TrousseauDiagnostics.ActivitySourceName);

    public static readonly Meter Meter = new(TrousseauDiagnostics.MeterName);

    public static readonly Histogram<double> OperationDuration = Meter.CreateHistogram<double>(
        "trousseau.operation.duration", unit: "s", description: "Duration of Trousseau operations, by operation, provider, store and outcome.");

    public static readonly Counter<long> DataKeyCacheHits = Meter.CreateCounter<long>(
        "trousseau.datakey.cache.hits", unit: "{operation}", description: "Encryptions and decryptions served by a cached data key.");

    public static readonly Counter<long> DataKeyCacheMisses = Meter.CreateCounter<long>(
        "trousseau.datakey.cache.misses", unit: "{operation}", description: "Encryptions and decryptions that needed the key provider.");

    /// <summary>The outcome tag of a failure: the error's kind, never its message.</summary>
    public static string Outcome(Exception exception) => exception switch
    {
        SecretNotFoundException => "not_found",
        SecretConflictException => "conflict",
        DependencyUnavailableException => "unavailable",
        InvalidCiphertextException => "invalid_ciphertext",
        InvalidInputException => "invalid_input",
        AccessForbiddenException => "forbidden",
        OperationCanceledException => "cancelled",
        _ => "error",
    };
}
