using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Reflection;

namespace Trousseau;

/// <summary>
/// Trousseau's one <see cref="System.Diagnostics.ActivitySource"/> and one <see cref="System.Diagnostics.Metrics.Meter"/>,
/// both named <see cref="TrousseauDiagnostics.ActivitySourceName"/> and versioned with the package. <c>AddTrousseau</c>
/// registers it as a singleton, the meter created by the host's <see cref="IMeterFactory"/>; Trousseau's packages (Vault,
/// KMS, etcd) take it from the container for their own spans and instruments. Applications subscribe with
/// <c>AddTrousseauInstrumentation()</c> and never need this type.
/// </summary>
public sealed class TrousseauInstrumentation : IDisposable
{
    // Encrypt and decrypt under a cached data key take microseconds; a key provider or store call, milliseconds.
    private static readonly IReadOnlyList<double> DurationBuckets = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    /// <summary>Creates the source and, from <paramref name="meterFactory"/>, the meter.</summary>
    /// <param name="meterFactory">The host's meter factory, which owns (and disposes) the meter.</param>
    public TrousseauInstrumentation(IMeterFactory meterFactory)
    {
        ArgumentNullException.ThrowIfNull(meterFactory);
        var version = Version();
        ActivitySource = new ActivitySource(TrousseauDiagnostics.ActivitySourceName, version);
        Meter = meterFactory.Create(new MeterOptions(TrousseauDiagnostics.MeterName) { Version = version });
        OperationDuration = CreateDurationHistogram(
            "trousseau.operation.duration", "Duration of Trousseau operations (encrypt, decrypt, secret calls), by operation, key provider, store and error type.");
        StoreCallDuration = CreateDurationHistogram(
            "db.client.operation.duration", "Duration of calls to the secret store, by store (db.system.name), call (db.operation.name) and error type.");
        DataKeyCacheHits = Meter.CreateCounter<long>(
            "trousseau.datakey.cache.hits", unit: "{operation}", description: "Encryptions and decryptions served by a cached data key.");
        DataKeyCacheMisses = Meter.CreateCounter<long>(
            "trousseau.datakey.cache.misses", unit: "{operation}", description: "Encryptions and decryptions that needed the key provider.");
    }

    /// <summary>The source of every Trousseau span.</summary>
    public ActivitySource ActivitySource { get; }

    /// <summary>The meter of every Trousseau instrument.</summary>
    public Meter Meter { get; }

    internal Histogram<double> OperationDuration { get; }

    internal Histogram<double> StoreCallDuration { get; }

    internal Counter<long> DataKeyCacheHits { get; }

    internal Counter<long> DataKeyCacheMisses { get; }

    /// <summary>
    /// Creates a histogram of durations in seconds on <see cref="Meter"/>, with bucket boundaries from 100 µs to 10 s
    /// (the SDK's defaults suit milliseconds, not seconds).
    /// </summary>
    /// <param name="name">The instrument name, <c>trousseau.*.duration</c>.</param>
    /// <param name="description">What is measured, and by which tags.</param>
    /// <returns>The histogram.</returns>
    public Histogram<double> CreateDurationHistogram(string name, string description) =>
        Meter.CreateHistogram(name, unit: "s", description: description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    /// <summary>
    /// The <c>error.type</c> tag of a failure, the same on every Trousseau span and measurement: Trousseau's error kind
    /// (<c>not_found</c>, <c>conflict</c>, <c>unavailable</c>, <c>invalid_ciphertext</c>, <c>invalid_input</c>,
    /// <c>forbidden</c>), <c>cancelled</c>, else the exception's type name; never its message.
    /// </summary>
    /// <param name="exception">The failure.</param>
    /// <returns>The tag value.</returns>
    public static string ErrorType(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return exception switch
        {
            SecretNotFoundException => "not_found",
            SecretConflictException => "conflict",
            DependencyUnavailableException => "unavailable",
            InvalidCiphertextException => "invalid_ciphertext",
            InvalidInputException => "invalid_input",
            AccessForbiddenException => "forbidden",
            OperationCanceledException => "cancelled",
            _ => exception.GetType().FullName ?? "_OTHER",
        };
    }

    /// <summary>Disposes the activity source; the meter is the factory's to dispose.</summary>
    public void Dispose() => ActivitySource.Dispose();

    private static string Version()
    {
        var version = typeof(TrousseauInstrumentation).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";
        var metadata = version.IndexOf('+', StringComparison.Ordinal);
        return metadata < 0 ? version : version[..metadata];
    }
}
