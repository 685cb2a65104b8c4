using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trousseau.Hosting.Internal;

namespace Trousseau.Hosting.Worker;

/// <summary>
/// Keeps the key provider's health and key id fresh, and after a rotation (through Trousseau or outside it, for
/// example with Vault's CLI) re-encrypts the stored secrets under the new key, logging progress. Failures, typed or
/// not, are retried at the next tick; the worker never stops the host. A run of failed ticks (a store down for an hour)
/// is logged once when it begins, again only when the kind of failure changes, and once when a tick succeeds again;
/// the ticks in between are logged at Debug.
/// </summary>
/// <remarks>
/// Its first pass after start is a rewrap too, since nothing in memory tells whether a rewrap was cut short by the
/// process's end (a kill, a crash, a stop) or the key rotated while the process was down. The pass reads each record
/// once, a page at a time, and moves only those not under the current key; a store wholly under it is left unwritten.
/// </remarks>
internal sealed partial class TrousseauWorker(
    IKeyProvider provider,
    IKeyAdministration keys,
    IOptions<TrousseauWorkerOptions> options,
    DependencyStateLog stateLog,
    TimeProvider time,
    ILogger<TrousseauWorker> logger) : BackgroundService
{
    private string? _lastKeyId;
    private string? _rewrapAnnounced;
    private bool _watching;
    private int _failedTicks;
    private Type? _failure;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.Interval, time);
        do
        {
            await TickAsync(stoppingToken).ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task TickAsync(CancellationToken cancellationToken)
    {
        try
        {
            var health = await provider.CheckHealthAsync(cancellationToken).ConfigureAwait(false);
            stateLog.Observe(DependencyStateLog.KeyProviderName(provider), health);
            if (!health.IsHealthy)
            {
                return;
            }

            // Asked of the provider's source, so that a rotation another process made reaches this one's wraps, KMS
            // Status and new writes (whose data key wrapped under the older key is retired), rewrap or not.
            var key = await keys.GetKeyStatusAsync(cancellationToken).ConfigureAwait(false);
            if (!_watching)
            {
                LogWatching(logger, provider.Name, key.KeyId);
                _watching = true;
            }

            // The key the stored secrets are under now: a rewrap moves them to a key rotated while it ran, if any.
            var keyId = key.KeyId;
            if (_lastKeyId != key.KeyId && options.Value.RewrapAfterRotation)
            {
                // A rewrap that failed runs again at each tick; the operator is told of it once.
                var announce = _rewrapAnnounced != key.KeyId;
                _rewrapAnnounced = key.KeyId;
                if (_lastKeyId is null)
                {
                    if (announce)
                    {
                        LogStartRewrap(logger, key.KeyId);
                    }

                    var result = await keys.RewrapSecretsAsync(cancellationToken).ConfigureAwait(false);
                    keyId = result.KeyId ?? keyId;
                    LogStartRewrapDone(logger, result.Rewrapped, keyId, result.Skipped, result.Failed);
                }
                else
                {
                    if (announce)
                    {
                        LogRotationSeen(logger, _lastKeyId, key.KeyId);
                    }

                    var result = await keys.RewrapSecretsAsync(cancellationToken).ConfigureAwait(false);
                    keyId = result.KeyId ?? keyId;
                    LogRewrapDone(logger, result.Rewrapped, keyId, result.Skipped, result.Failed);
                }
            }

            // Moved on only once the rewrap is done, so that a failed one (at start too) runs again at the next tick; to
            // the key the rewrap moved the secrets to, so that the next tick does not rewrap again for nothing.
            _lastKeyId = keyId;
            if (_failedTicks > 0)
            {
                LogTicksSucceedAgain(logger, _failedTicks);
                (_failedTicks, _failure) = (0, null);
            }
        }
        catch (TrousseauException e)
        {
            // The next tick tries again; a rewrap resumes where it stopped, since moved secrets are skipped.
            Failed(e, unexpected: false);
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            Failed(e, unexpected: true);
        }
    }

    /// <summary>
    /// Logs a failed tick: at its level when it begins a run of failures or fails otherwise than the tick before, else
    /// at Debug.
    /// </summary>
    private void Failed(Exception failure, bool unexpected)
    {
        _failedTicks++;
        var previous = _failure;
        _failure = failure.GetType();
        if (_failure != previous)
        {
            if (unexpected)
            {
                LogTickFailedUnexpectedly(logger, failure);
            }
            else
            {
                LogTickFailed(logger, _failure.Name, failure.Message);
            }
        }
        else if (logger.IsEnabled(LogLevel.Debug))
        {
            LogTickFailedAgain(logger, _failure.Name, _failedTicks, failure.Message);
        }
    }

    [LoggerMessage(EventId = 6000, Level = LogLevel.Information, Message = "Worker watching key provider {Provider}; current key {KeyId}")]
    private static partial void LogWatching(ILogger logger, string provider, string keyId);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Information, Message = "Rewrapping at start any stored secret not under the current key {KeyId}, which a rewrap cut short or a rotation while stopped leaves behind")]
    private static partial void LogStartRewrap(ILogger logger, string keyId);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Information, Message = "Rewrap at start finished: {Moved} stored secrets moved to {KeyId}, {Skipped} needed no move, {Failed} left under an older key (each named, with the reason, in event 1204, 1205 or 1206)")]
    private static partial void LogStartRewrapDone(ILogger logger, long moved, string keyId, long skipped, long failed);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Information, Message = "The current key changed from {Previous} to {Current}; rewrapping stored secrets")]
    private static partial void LogRotationSeen(ILogger logger, string previous, string current);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Information, Message = "Rewrap after rotation finished: {Moved} stored secrets moved to {KeyId}, {Skipped} needed no move, {Failed} left under an older key (each named, with the reason, in event 1204, 1205 or 1206)")]
    private static partial void LogRewrapDone(ILogger logger, long moved, string keyId, long skipped, long failed);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Warning, Message = "Worker tick failed with {Error}: {Message}")]
    private static partial void LogTickFailed(ILogger logger, string error, string message);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Error, Message = "Worker tick failed unexpectedly; trying again at the next tick")]
    private static partial void LogTickFailedUnexpectedly(ILogger logger, Exception exception);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Debug, Message = "Worker tick failed again with {Error} ({Failures} ticks in a row): {Message}")]
    private static partial void LogTickFailedAgain(ILogger logger, string error, int failures, string message);

    [LoggerMessage(EventId = 6009, Level = LogLevel.Information, Message = "Worker ticks succeed again after {Failures} failed ticks")]
    private static partial void LogTicksSucceedAgain(ILogger logger, int failures);
}
