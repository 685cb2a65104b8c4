using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Trousseau.Vault.Internal;

/// <summary>Vault token metrics on the <c>Trousseau</c> meter: TTL left, renewals and logins, by auth method.</summary>
internal static class VaultMetrics
{
    private static readonly Meter Meter = new(TrousseauDiagnostics.MeterName);
    private static readonly ConcurrentDictionary<VaultTokenSource, KeyValuePair<string, object?>[]> Sources = new();

    public static readonly Counter<long> Renewals = Meter.CreateCounter<long>("trousseau.vault.token.renewals", unit: "{renewal}", description: "Vault token renewals.");

    public static readonly Counter<long> Logins = Meter.CreateCounter<long>("trousseau.vault.token.logins", unit: "{login}", description: "Vault logins (Kubernetes or AppRole).");

    static VaultMetrics() =>
        Meter.CreateObservableGauge(
            "trousseau.vault.token.ttl",
            () => Sources.Select(s => s.Key.TimeToLiveSeconds is { } ttl ? new Measurement<double>(ttl, s.Value) : (Measurement<double>?)null)
                .OfType<Measurement<double>>(),
            unit: "s",
            description: "Seconds until the Vault token expires.");

    /// <summary>Reports <paramref name="source"/>'s TTL, tagged with its auth method and Vault's host and port.</summary>
    public static void Track(VaultTokenSource source, string method, string? server) =>
        Sources[source] = [new("auth.method", method), new("server.address", server)];

    public static void Untrack(VaultTokenSource source) => Sources.TryRemove(source, out _);
}
