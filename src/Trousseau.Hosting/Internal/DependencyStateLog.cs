using Microsoft.Extensions.Logging;

namespace Trousseau.Hosting.Internal;

/// <summary>
/// Logs a dependency (the key provider, the store) going down or coming back once per change of state, however often
/// its health is asked for: a readiness probe every few seconds must not fill the log while Vault is down.
/// </summary>
internal sealed partial class DependencyStateLog(ILogger<DependencyStateLog> logger)
{
    private readonly Dictionary<string, bool> _healthy = new(StringComparer.Ordinal);

    /// <summary>How the key provider is named in the log, for example "Key provider vault".</summary>
    public static string KeyProviderName(IKeyProvider provider) => $"Key provider {provider.Name}";

    /// <summary>How the store is named in the log, for example "Store etcd".</summary>
    public static string StoreName(ISecretStore store) => $"Store {store.Name}";

    /// <summary>Records <paramref name="health"/> for <paramref name="dependency"/>, logging when its state changed.</summary>
    public void Observe(string dependency, DependencyHealth health)
    {
        lock (_healthy)
        {
            var known = _healthy.TryGetValue(dependency, out var wasHealthy);
            if (known && wasHealthy == health.IsHealthy)
            {
                return;
            }

            _healthy[dependency] = health.IsHealthy;
            if (!health.IsHealthy)
            {
                // The message ends the reason with its own full stop.
                LogUnavailable(logger, dependency, health.Description.TrimEnd('.'));
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
}
