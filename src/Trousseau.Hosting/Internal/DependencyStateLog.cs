using System.Text;
using Microsoft.Extensions.Logging;

namespace Trousseau.Hosting.Internal;

/// <summary>
/// Logs a dependency (the key provider, the store) going down, becoming degraded or coming back once per change of
/// state, however often its health is asked for: a readiness probe every few seconds must not fill the log while Vault
/// is down. While it stays down or degraded, a reason not logged before in that state (etcd that went back to an older
/// revision and then answers as another cluster) is logged once too, so that the second cause is not hidden behind the
/// first; a reason that differs only in its numbers (a revision, the bytes free) is the same reason, and one logged
/// before in that state, a reason that comes back or alternates with another, is not logged again.
/// </summary>
internal sealed partial class DependencyStateLog(ILogger<DependencyStateLog> logger)
{
    /// <summary>How many reasons one spell of a state logs at most, should a dependency's reasons keep changing.</summary>
    private const int MaxReasonsPerState = 16;

    private readonly Dictionary<string, (State State, HashSet<string> Reasons)> _states = new(StringComparer.Ordinal);

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
        var reason = health.Description.TrimEnd('.');
        lock (_states)
        {
            var known = _states.TryGetValue(dependency, out var was);
            if (known && was.State == state)
            {
                if (state == State.Healthy || was.Reasons.Count >= MaxReasonsPerState || !was.Reasons.Add(WithoutNumbers(reason)))
                {
                    return;
                }
            }
            else
            {
                _states[dependency] = (state, new HashSet<string>(StringComparer.Ordinal) { WithoutNumbers(reason) });
            }

            // The messages end the reason with their own full stop.
            if (state == State.Unhealthy)
            {
                LogUnavailable(logger, dependency, reason);
            }
            else if (state == State.Degraded)
            {
                LogDegraded(logger, dependency, reason);
            }
            else if (known)
            {
                LogRecovered(logger, dependency);
            }
        }
    }

    /// <summary>A reason with each run of digits as one <c>#</c>, so that a revision or a count that moves on is no new reason.</summary>
    private static string WithoutNumbers(string reason)
    {
        var builder = new StringBuilder(reason.Length);
        foreach (var c in reason)
        {
            if (!char.IsAsciiDigit(c))
            {
                builder.Append(c);
            }
            else if (builder.Length == 0 || builder[^1] != '#')
            {
                builder.Append('#');
            }
        }

        return builder.ToString();
    }

    [LoggerMessage(EventId = 6100, Level = LogLevel.Warning, Message = "{Dependency} is unavailable: {Reason}. Requests that need it answer 503 (KMS: UNAVAILABLE) until it recovers.")]
    private static partial void LogUnavailable(ILogger logger, string dependency, string reason);

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "{Dependency} is available again.")]
    private static partial void LogRecovered(ILogger logger, string dependency);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Warning, Message = "{Dependency} is degraded: {Reason}. Readiness stays up.")]
    private static partial void LogDegraded(ILogger logger, string dependency, string reason);
}
