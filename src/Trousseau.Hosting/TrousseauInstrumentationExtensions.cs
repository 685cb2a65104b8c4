using Trousseau;

namespace OpenTelemetry;

/// <summary>Subscribes OpenTelemetry to Trousseau's traces and metrics.</summary>
public static class TrousseauInstrumentationExtensions
{
    /// <summary>Adds Trousseau's spans (encrypt, decrypt, secret operations) to the tracer provider.</summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The builder.</returns>
    public static Trace.TracerProviderBuilder AddTrousseauInstrumentation(this Trace.TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(TrousseauDiagnostics.ActivitySourceName);
    }

    /// <summary>
    /// Adds Trousseau's metrics (operation durations, DEK cache hits and misses, Vault token TTL and renewals,
    /// KMS requests) to the meter provider.
    /// </summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The builder.</returns>
    public static Metrics.MeterProviderBuilder AddTrousseauInstrumentation(this Metrics.MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(TrousseauDiagnostics.MeterName);
    }
}
