using Trousseau;

namespace OpenTelemetry.Trace;

/// <summary>Subscribes an OpenTelemetry tracer provider to Trousseau's spans.</summary>
public static class TrousseauTracerProviderBuilderExtensions
{
    /// <summary>
    /// Adds Trousseau's spans (operations, store and key-provider calls, Vault requests, KMS calls) to the tracer
    /// provider: the <see cref="TrousseauDiagnostics.ActivitySourceName"/> source.
    /// </summary>
    /// <param name="builder">The tracer provider builder.</param>
    /// <returns>The builder.</returns>
    public static TracerProviderBuilder AddTrousseauInstrumentation(this TracerProviderBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.AddSource(TrousseauDiagnostics.ActivitySourceName);
    }
}
