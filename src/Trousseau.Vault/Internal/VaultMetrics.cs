using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Vault token metrics on <see cref="TrousseauInstrumentation.Meter"/>: TTL left, renewals and logins, each tagged
/// with the auth method and Vault's host and port.
/// </summary>
internal sealed class VaultMetrics
{
    private readonly TrousseauInstrumentation _instrumentation;
    private readonly Counter<long> _renewals;
    private readonly Counter<long> _logins;
    private readonly KeyValuePair<string, object?>[] _tags;

    public VaultMetrics(TrousseauInstrumentation instrumentation, IOptions<VaultOptions> options)
    {
        _instrumentation = instrumentation;
        var vault = options.Value;
        _tags =
        [
            new("trousseau.vault.auth.method", vault.Auth.Method.ToLowerInvariant()),
            new("server.address", vault.Address?.Host),
            new("server.port", vault.Address?.Port),
        ];
        _renewals = instrumentation.Meter.CreateCounter<long>("trousseau.vault.token.renewals", unit: "{renewal}", description: "Vault token renewals.");
        _logins = instrumentation.Meter.CreateCounter<long>("trousseau.vault.token.logins", unit: "{login}", description: "Vault logins (Kubernetes or AppRole).");
    }

    /// <summary>Reports the token's time to live, read from <paramref name="timeToLiveSeconds"/> at each collection.</summary>
    public void ObserveTimeToLive(Func<double?> timeToLiveSeconds) =>
        _instrumentation.Meter.CreateObservableGauge(
            "trousseau.vault.token.ttl",
            () => timeToLiveSeconds() is { } ttl ? [new Measurement<double>(ttl, _tags)] : Array.Empty<Measurement<double>>(),
            unit: "s",
            description: "Seconds until the Vault token expires.");

    public void Renewed() => _renewals.Add(1, new TagList(_tags));

    public void LoggedIn() => _logins.Add(1, new TagList(_tags));
}
