using Microsoft.Extensions.Logging;

namespace Trousseau.Etcd.Internal;

/// <summary>
/// The failures of one watch of the etcd store since it last worked. Each is logged at debug level; the first, then at
/// most one a minute while they go on, as a warning; the first answer after them, as information. The store's health
/// reads <see cref="Trouble"/>.
/// </summary>
internal sealed class EtcdWatchFailures(string prefix, ILogger logger, TimeProvider time)
{
    /// <summary>How often the warning repeats while the watch keeps failing, and how long it fails before the store's health is degraded.</summary>
    private static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private DateTimeOffset? _since;
    private DateTimeOffset _warned;
    private int _failures;
    private string _reason = "";

    /// <summary>
    /// What the store's health says of this watch: why it fails, once it has been failing for longer than a minute;
    /// otherwise <see langword="null"/>.
    /// </summary>
    public string? Trouble
    {
        get
        {
            lock (_lock)
            {
                return _since is { } since && time.GetUtcNow() - since > Interval
                    ? $"the watch of '{prefix}' has been failing for {Seconds(time.GetUtcNow() - since)} s ({_failures} failures), so changes under it are not followed; "
                        + $"the last failure: {_reason.TrimEnd('.')}"
                    : null;
            }
        }
    }

    /// <summary>Takes in a failure that makes the watch open its stream again; <paramref name="reason"/> is one sentence naming the member.</summary>
    public void Failed(string reason)
    {
        int failures;
        long seconds;
        bool warn;
        lock (_lock)
        {
            var now = time.GetUtcNow();
            _since ??= now;
            _failures++;
            _reason = reason;
            failures = _failures;
            seconds = Seconds(now - _since.Value);
            warn = failures == 1 || now - _warned >= Interval;
            if (warn)
            {
                _warned = now;
            }
        }

        Log.WatchFailed(logger, prefix, reason);
        if (warn)
        {
            Log.WatchFailing(logger, prefix, failures, seconds, reason);
        }
    }

    /// <summary>Takes in an answer of the watch: after failures, says once that it works again at <paramref name="member"/>.</summary>
    public void Worked(string member)
    {
        int failures;
        long seconds;
        lock (_lock)
        {
            if (_since is not { } since)
            {
                return;
            }

            failures = _failures;
            seconds = Seconds(time.GetUtcNow() - since);
            _since = null;
            _failures = 0;
        }

        Log.WatchWorksAgain(logger, prefix, member, failures, seconds);
    }

    private static long Seconds(TimeSpan time) => (long)time.TotalSeconds;
}
