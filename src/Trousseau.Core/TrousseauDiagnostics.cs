namespace Trousseau;

/// <summary>
/// The names under which Trousseau publishes traces and metrics, for OpenTelemetry's <c>AddSource</c> and
/// <c>AddMeter</c> (or <c>AddTrousseauInstrumentation()</c> from Trousseau.Hosting). One source and one meter carry
/// them, held by <see cref="TrousseauInstrumentation"/>. No tag ever carries a secret.
/// </summary>
public static class TrousseauDiagnostics
{
    /// <summary>The <see cref="System.Diagnostics.ActivitySource"/> name.</summary>
    public const string ActivitySourceName = "Trousseau";

    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> name.</summary>
    public const string MeterName = "Trousseau";
}
