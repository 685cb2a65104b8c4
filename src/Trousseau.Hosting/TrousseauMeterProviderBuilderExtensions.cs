using Trousseau;

namespace OpenTelemetry.Metrics;

/// <summary>Subscribes an OpenTelemetry meter provider to Trousseau's metrics.</summary>
public static class TrousseauMeterProviderBuilderExtensions
{
    /// <summary>
    /// Adds Trousseau's metrics (operation durations, data-key cache hits and misses, Vault token TTL, renewals and
    /// logins, KMS calls) to the meter provider: the <see cref="TrousseauDiagnostics.MeterName"/> meter.
    /// </summary>
    /// <param name="builder">The meter provider builder.</param>
    /// <returns>The builder.</returns>
    public static MeterProviderBuilder AddTrousseauInstrumentation(this MeterProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddMeter(TrousseauDiagnostics.MeterName);
    }
}
