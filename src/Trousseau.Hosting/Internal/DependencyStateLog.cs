using Microsoft.Extensions.Logging;

namespace Trousseau.Hosting.Internal;

/// <summary>
/// Logs a dependency (the key provider, the store) going down, becoming degraded or coming back once per change of
/// state, however often its health is asked for: a readiness probe every few seconds must not fill the log while Vault
/// is down.
/// </summary>
internal sealed partial class DependencyStateLog(ILogger<DependencyStateLog> logger)
{
    private readonly Dictionary<string, State> _states = new(StringComparer.Ordinal);

    private enum State
    {
        Healthy,
        Degraded,
        Unhealthy,
    }

    /// <summary>How the key provider is named in the log, for example "Key provider vault".</summary>
    public static string KeyProviderName(IKeyProvider provider) => $"Key provider {provider.Name}";

    /// <summary>How the store is named in the log, for example "Store etcd".</summary>
    public static string StoreName(ISecretStore store) => $"Store {store.Name}";

    /// <summary>Records <paramref name="health"/> for <paramref name="dependency"/>, logging when its state changed.</summary>
    public void Observe(string dependency, DependencyHealth health)
    {
        var state = health switch
        {
            { IsHealthy: false } => State.Unhealthy,
            { IsDegraded: true } => State.Degraded,
            _ => State.Healthy,
        };
        lock (_states)
        {
            var known = _states.TryGetValue(dependency, out var was);
            if (known && was == state)
            {
                return;
            }

            _states[dependency] = state;

            // The messages end the reason with their own full stop.
            if (state == State.Unhealthy)
            {
                LogUnavailable(logger, dependency, health.Description.TrimEnd('.'));
            }
            else if (state == State.Degraded)
            {
                LogDegraded(logger, dependency, health.Description.TrimEnd('.'));
            }
            else if (known)
            {
                LogRecovered(logger, dependency);
            }
        }
    }

    [LoggerMessage(EventId = 6100, Level = LogLevel.Warning, Message = "{Dependency} is unavailable: {Reason}. Requests that need it answer 503 (KMS: UNAVAILABLE) until it recovers.")]
    private static partial void LogUnavailable(ILogger logger, string dependency, string reason);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "{Dependency} is available again.")]
    private static partial void LogRecovered(ILogger logger, string dependency);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Warning, Message = "{Dependency} is degraded: {Reason}. Readiness stays up.")]
    private static partial void LogDegraded(ILogger logger, string dependency, string reason);
}
