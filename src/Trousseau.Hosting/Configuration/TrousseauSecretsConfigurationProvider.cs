using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Trousseau.Hosting.Configuration;

/// <summary>
/// Secrets as configuration: secret <c>db/login</c> with key <c>password</c> becomes <c>db:login:password</c>
/// (under the configured prefix). Reloads when a secret's revision changes, by polling and, with an etcd store,
/// by watching; <c>IOptionsMonitor</c> then sees the new values. The watch's changes are merged while a reload (and the
/// application's reload token listeners) runs, so a burst of writes makes one more reload, not one per write, and holds
/// no more in memory than a count and a revision. Values live only in memory. A reload after start that fails, whatever
/// it throws, and an <c>OnLoadError</c> that throws, are logged and end neither the polling nor the watch: only disposal
/// does.
/// </summary>
internal sealed partial class TrousseauSecretsConfigurationProvider : ConfigurationProvider, IDisposable
{
    private readonly TrousseauSecretsConfigurationOptions _options;
    private readonly ITrousseau _trousseau;
    private readonly ILogger _logger;
    private readonly Lock _outage = new();
    private int _failedReloads;
    private Type? _failure;
    private bool _onLoadErrorThrew;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _reload = new(1, 1);
    private Dictionary<string, LoadedSecret> _secrets = new(StringComparer.Ordinal);
    private readonly HashSet<string> _unreadableLogged = new(StringComparer.Ordinal);
    private HashSet<(string Name, string Loaded, string LeftOut)> _clashesLogged = [];
    private Task? _polling;
    private Task? _watching;
    private Task? _reloadingOnChanges;

    /// <summary>Holds one item while the watch has reported changes that no reload has begun to take in since.</summary>
    private readonly Channel<bool> _watchReported = Channel.CreateBounded<bool>(
        new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true, SingleWriter = true });

    private readonly Lock _watched = new();
    private int _changesWatched;
    private long _revisionWatched;

    // The longest period a timer takes: 2^32 - 2 ms, about 49.7 days.
    private static readonly TimeSpan MaxReloadInterval = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>How many secrets a load reads at once: enough to hide a broker's or a store's round trip, few enough not to crowd it.</summary>
    private const int MaxConcurrentReads = 16;

    public TrousseauSecretsConfigurationProvider(TrousseauSecretsConfigurationOptions options)
    {
        _options = options;
        _logger = (options.LoggerFactory ?? NullLoggerFactory.Instance).CreateLogger<TrousseauSecretsConfigurationProvider>();
        _trousseau = options.Trousseau ?? throw new ArgumentException("TrousseauSecretsConfigurationOptions.Trousseau is required.", nameof(options));
        if (options.Prefix is not { } prefix || (prefix.Length > 0 && !prefix.EndsWith('/')))
        {
            throw new ArgumentException(
                $"TrousseauSecretsConfigurationOptions.Prefix is '{options.Prefix}'; it must be empty or end with '/' (for example 'db/'): the secret names below it become configuration paths.",
                nameof(options));
        }

        if (!SecretNames.IsValidPrefix(prefix))
        {
            throw new ArgumentException(
                $"TrousseauSecretsConfigurationOptions.Prefix is '{prefix}'; no secret name starts with it: names use a-z, 0-9, '.', '_', '/' and '-', start with a letter or digit, and have no empty, '.' or '..' segment.",
                nameof(options));
        }

        if (options.ReloadInterval != Timeout.InfiniteTimeSpan && (options.ReloadInterval <= TimeSpan.Zero || options.ReloadInterval > MaxReloadInterval))
        {
            throw new ArgumentException(
                $"TrousseauSecretsConfigurationOptions.ReloadInterval is {options.ReloadInterval}; it must be positive and at most 49.17:02:47.294, or Timeout.InfiniteTimeSpan to poll never (changes then arrive through Watch, and IConfigurationRoot.Reload()).",
                nameof(options));
        }
    }

    public override void Load()
    {
        List<TrousseauException> unreadable = [];
        try
        {
            unreadable = ReloadAsync(force: true, _stop.Token).GetAwaiter().GetResult().Unreadable;
            Succeeded();
        }
        catch (TrousseauException e) when (_options.Optional)
        {
            // The values stay as they were: none at startup, the last good ones at a reload the application asked for.
            // Logged as the first failure of a run, which the poll or change that reads the secrets again ends.
            Failed(e);
            _options.OnLoadError?.Invoke(e);
        }

        Report(unreadable);

        if (_options.ReloadInterval != Timeout.InfiniteTimeSpan)
        {
            _polling ??= Task.Run(PollAsync);
        }

        if (_options.Watch is not null)
        {
            _reloadingOnChanges ??= Task.Run(ReloadOnChangesAsync);
            _watching ??= Task.Run(WatchAsync);
        }
    }

    /// <summary>
    /// Stops polling and watching, and ends a reload under way without changing the values or firing a reload. The
    /// token source and the semaphore stay undisposed: such a reload (a call that ignores cancellation) may still use
    /// them when it returns, and neither holds anything to release.
    /// </summary>
    public void Dispose() => _stop.Cancel();

    private async Task PollAsync()
    {
        using var timer = new PeriodicTimer(_options.ReloadInterval);
        while (await WaitAsync(timer).ConfigureAwait(false))
        {
            if (!await TryReloadAsync().ConfigureAwait(false))
            {
                return;
            }
        }
    }

    /// <summary>
    /// Follows the store's watch without waiting for reloads: each change (a reset too, after which the listing of a
    /// reload reads everything again) is counted and tells <see cref="ReloadOnChangesAsync"/> to reload. When the watch
    /// ends, the changes it reported before are still reloaded.
    /// </summary>
    private async Task WatchAsync()
    {
        try
        {
            await foreach (var change in _options.Watch!.WatchAsync(_options.Prefix, _stop.Token).ConfigureAwait(false))
            {
                lock (_watched)
                {
                    _changesWatched++;
                    // The latest, in the watch's order: after a reset, etcd's revisions may have gone back.
                    _revisionWatched = change.Revision;
                }

                _watchReported.Writer.TryWrite(true);
            }
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Disposed.
        }
        catch (Exception e)
        {
            // The store gave up the watch (it retries what is transient itself); polling, if any, goes on.
            LogWatchEnded(_logger, _options.Prefix, e.GetType().Name, e);
        }
        finally
        {
            _watchReported.Writer.TryComplete();
        }
    }

    /// <summary>
    /// Reloads once for every change the watch reported since the last reload began, however many: those reported
    /// while a reload runs are taken in by one more. Ends when the watch has ended and its changes are reloaded, or at
    /// disposal.
    /// </summary>
    private async Task ReloadOnChangesAsync()
    {
        try
        {
            while (await _watchReported.Reader.WaitToReadAsync(_stop.Token).ConfigureAwait(false))
            {
                _watchReported.Reader.TryRead(out _);
                int changes;
                long revision;
                lock (_watched)
                {
                    (changes, revision, _changesWatched) = (_changesWatched, _revisionWatched, 0);
                }

                LogReloadingForChanges(_logger, _options.Prefix, changes, revision);
                if (!await TryReloadAsync().ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // Disposed.
        }
    }

    private async Task<bool> WaitAsync(PeriodicTimer timer)
    {
        try
        {
            return await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>
    /// Reloads if a secret changed; returns whether to go on, which is not once disposed. A failure keeps the last good
    /// values, whatever it is: a <see cref="TrousseauException"/>, or anything else the <see cref="ITrousseau"/> read
    /// through throws (an application's decorator, an HTTP client's failure, a cancellation of its own such as a
    /// timeout, a library disposed before the configuration); the next poll or change tries again.
    /// </summary>
    private async Task<bool> TryReloadAsync()
    {
        try
        {
            var (changed, unreadable) = await ReloadAsync(force: false, _stop.Token).ConfigureAwait(false);
            Succeeded();
            if (changed)
            {
                NotifyReload();
            }

            foreach (var e in unreadable)
            {
                Tell(e);
            }

            return true;
        }
        catch (Exception) when (_stop.IsCancellationRequested)
        {
            // Disposed during the reload, which ends here and changes nothing.
            return false;
        }
        catch (Exception e)
        {
            Failed(e);
            if (e is TrousseauException failure)
            {
                Tell(failure);
            }

            return true;
        }
    }

    /// <summary>
    /// Logs a failed reload: when it begins a run of failures, or fails otherwise than the reload before, at Warning
    /// (a <see cref="TrousseauException"/>, whose message names no value) or at Error with the exception (anything
    /// else); else at Debug.
    /// </summary>
    private void Failed(Exception failure)
    {
        var kind = failure.GetType();
        Type? previous;
        int failures;
        lock (_outage)
        {
            (previous, _failure) = (_failure, kind);
            failures = ++_failedReloads;
        }

        if (kind != previous)
        {
            if (failure is TrousseauException)
            {
                LogReloadFailed(_logger, _options.Prefix, kind.Name, failure.Message);
            }
            else
            {
                LogReloadFailedUnexpectedly(_logger, _options.Prefix, kind.Name, failure);
            }
        }
        else
        {
            LogReloadFailedAgain(_logger, _options.Prefix, kind.Name, failures);
        }
    }

    /// <summary>Ends a run of failed reloads, logging how long it was.</summary>
    private void Succeeded()
    {
        int failures;
        lock (_outage)
        {
            (failures, _failedReloads, _failure) = (_failedReloads, 0, null);
        }

        if (failures > 0)
        {
            LogReloadsSucceedAgain(_logger, _options.Prefix, failures);
        }
    }

    /// <summary>
    /// Gives the application's <c>OnLoadError</c> a failure of a reload after start. What it throws is logged, once
    /// until a call to it returns, and ends neither the polling nor the watch.
    /// </summary>
    private void Tell(TrousseauException failure)
    {
        if (_options.OnLoadError is not { } onLoadError)
        {
            return;
        }

        try
        {
            onLoadError(failure);
            lock (_outage)
            {
                _onLoadErrorThrew = false;
            }
        }
        catch (Exception e)
        {
            bool first;
            lock (_outage)
            {
                (first, _onLoadErrorThrew) = (!_onLoadErrorThrew, true);
            }

            if (first)
            {
                LogOnLoadErrorThrew(_logger, _options.Prefix, e.GetType().Name, e);
            }
        }
    }

    /// <summary>
    /// Fires the reload token. Its listeners are the application's: <c>IOptionsMonitor</c> validates the new values in
    /// its listener and throws there when they fail validation. Every listener has run by then, and the application
    /// sees the failure when it reads those options; the exception must not end the polling or the watch, or the
    /// value that fixes them would never be loaded.
    /// </summary>
    private void NotifyReload()
    {
        try
        {
            OnReload();
        }
        catch (AggregateException)
        {
            // Thrown by the listeners, once each has run.
        }
    }

    private void Report(List<TrousseauException> unreadable)
    {
        foreach (var e in unreadable)
        {
            _options.OnLoadError?.Invoke(e);
        }
    }

    /// <summary>
    /// Reads again the secrets whose revision moved, those added, and those that could not be read last time (all of
    /// them when <paramref name="force"/>d); drops those deleted. Returns whether the values changed, and why each secret
    /// that does not decrypt, or that the caller may list but not read, was not read: such a secret keeps its last
    /// values and holds back no other. A forced load throws the first of them instead unless the source is optional, so
    /// that an application does not start without it unawares.
    /// </summary>
    private async Task<(bool Changed, List<TrousseauException> Unreadable)> ReloadAsync(bool force, CancellationToken cancellationToken)
    {
        await _reload.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var revisions = new List<(string Name, long Revision)>();
            await foreach (var metadata in _trousseau.ListSecretsAsync(_options.Prefix, cancellationToken).ConfigureAwait(false))
            {
                revisions.Add((metadata.Name, metadata.Revision));
            }

            var listed = revisions.Select(secret => secret.Name).ToHashSet(StringComparer.Ordinal);
            var changed = force || _secrets.Keys.Any(name => !listed.Contains(name));
            var toRead = revisions
                .Where(secret => force || _secrets.GetValueOrDefault(secret.Name) is not { Readable: true } known || known.Revision != secret.Revision)
                .Select(secret => secret.Name)
                .ToList();
            var reads = await ReadAllAsync(toRead, cancellationToken).ConfigureAwait(false);
            var secrets = new Dictionary<string, LoadedSecret>(StringComparer.Ordinal);
            var unreadable = new List<TrousseauException>();
            var unreadableNames = new List<string>();
            foreach (var (name, revision) in revisions)
            {
                var known = _secrets.GetValueOrDefault(name);
                if (!reads.TryGetValue(name, out var read))
                {
                    secrets[name] = known!;
                    continue;
                }

                switch (read)
                {
                    case Secret secret:
                        secrets[name] = new LoadedSecret(revision, secret.Data, Readable: true);
                        changed = true;
                        break;
                    case SecretNotFoundException:
                        // Deleted since the listing.
                        changed |= known is not null;
                        break;
                    case TrousseauException e:
                        unreadable.Add(NotLoaded(name, e));
                        unreadableNames.Add(name);
                        if (known is not null)
                        {
                            secrets[name] = known with { Readable = false };
                        }

                        break;
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            if (force && unreadable.Count > 0 && !_options.Optional)
            {
                throw unreadable[0];
            }

            LogUnreadable(unreadable, unreadableNames, secrets);
            _secrets = secrets;
            if (changed)
            {
                Data = ToConfiguration(secrets);
            }

            return (changed, unreadable);
        }
        finally
        {
            _reload.Release();
        }
    }

    /// <summary>
    /// Reads the secrets named, at most <see cref="MaxConcurrentReads"/> at a time, into the secret, or the
    /// <see cref="SecretNotFoundException"/>, <see cref="InvalidCiphertextException"/> or
    /// <see cref="AccessForbiddenException"/> it threw, by name. Any other failure stops the reads not yet started, lets
    /// those under way end, and is thrown: the first that happened, not a cancellation it caused.
    /// </summary>
    private async Task<Dictionary<string, object>> ReadAllAsync(List<string> names, CancellationToken cancellationToken)
    {
        var reads = new object[names.Count];
        Exception? failure = null;
        var next = -1;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        async Task ReadSomeAsync()
        {
            int i;
            while (!stop.IsCancellationRequested && (i = Interlocked.Increment(ref next)) < names.Count)
            {
                try
                {
                    reads[i] = await _trousseau.GetSecretAsync(names[i], stop.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SecretNotFoundException or InvalidCiphertextException or AccessForbiddenException)
                {
                    reads[i] = e;
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref failure, e, null);
                    await stop.CancelAsync().ConfigureAwait(false);
                }
            }
        }

        var readers = Enumerable.Range(0, Math.Min(MaxConcurrentReads, names.Count)).Select(_ => Task.Run(ReadSomeAsync, CancellationToken.None));
        await Task.WhenAll(readers).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (failure is not null)
        {
            ExceptionDispatchInfo.Throw(failure);
        }

        var byName = new Dictionary<string, object>(names.Count, StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            byName[names[i]] = reads[i];
        }

        return byName;
    }

    /// <summary>
    /// Logs each secret that could not be read once, when its reads begin to fail, and once when it is read again; not
    /// at every poll between. Called under the reload semaphore.
    /// </summary>
    private void LogUnreadable(List<TrousseauException> unreadable, List<string> unreadableNames, Dictionary<string, LoadedSecret> secrets)
    {
        foreach (var name in _unreadableLogged.Where(name => !unreadableNames.Contains(name)).ToList())
        {
            _unreadableLogged.Remove(name);
            if (secrets.ContainsKey(name))
            {
                LogSecretReadAgain(_logger, _options.Prefix, name);
            }
        }

        foreach (var (name, failure) in unreadableNames.Zip(unreadable))
        {
            if (_unreadableLogged.Add(name))
            {
                LogSecretNotLoaded(_logger, _options.Prefix, failure.GetType().Name, failure.Message);
            }
        }
    }

    /// <summary>Why one secret was left out, naming it, with the same type as <paramref name="cause"/>.</summary>
    private static TrousseauException NotLoaded(string name, TrousseauException cause)
    {
        var message = $"Secret '{name}' was not loaded into configuration: {cause.Message}";
        return cause is AccessForbiddenException ? new AccessForbiddenException(message, cause) : new InvalidCiphertextException(message, cause);
    }

    /// <summary>
    /// Secret <c>db/login</c> with key <c>password</c>, under prefix <c>app/</c>, becomes <c>db:login:password</c>.
    /// Configuration keys ignore case: of a secret's data keys that differ only in case, the one last in ordinal order
    /// (<c>password</c> before <c>Password</c>) gives the key and its value, whatever order the data came in, and each
    /// other is left out and logged once by name, until the secret has one spelling again. Called under the reload
    /// semaphore.
    /// </summary>
    private Dictionary<string, string?> ToConfiguration(Dictionary<string, LoadedSecret> secrets)
    {
        var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        var clashes = new HashSet<(string Name, string Loaded, string LeftOut)>();
        foreach (var (name, secret) in secrets)
        {
            var section = name[_options.Prefix.Length..].Replace('/', ':');
            var loaded = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var key in secret.Data.Keys.OrderDescending(StringComparer.Ordinal))
            {
                if (loaded.TryAdd(key, key))
                {
                    data[ConfigurationPath.Combine(section, key)] = secret.Data[key];
                }
                else
                {
                    var clash = (Name: name, Loaded: loaded[key], LeftOut: key);
                    clashes.Add(clash);
                    if (!_clashesLogged.Contains(clash))
                    {
                        LogKeysDifferOnlyInCase(_logger, _options.Prefix, name, clash.Loaded, key);
                    }
                }
            }
        }

        _clashesLogged = clashes;
        return data;
    }

    /// <summary>
    /// A secret as last read: its revision when read, and its data; not <paramref name="Readable"/> when the latest read
    /// failed (it did not decrypt, or was refused), and the data are the values it had before, read again at every
    /// reload until it is read.
    /// </summary>
    private sealed record LoadedSecret(long Revision, IReadOnlyDictionary<string, string> Data, bool Readable);

    [LoggerMessage(EventId = 6400, Level = LogLevel.Warning, Message = "Trousseau secrets under '{Prefix}' not reloaded into configuration: {Error}: {Message} The values already loaded stay; the next poll or change tries again")]
    private static partial void LogReloadFailed(ILogger logger, string prefix, string error, string message);

    [LoggerMessage(EventId = 6401, Level = LogLevel.Error, Message = "Trousseau secrets under '{Prefix}' not reloaded into configuration: reading them threw {Error}. The values already loaded stay; the next poll or change tries again")]
    private static partial void LogReloadFailedUnexpectedly(ILogger logger, string prefix, string error, Exception exception);

    [LoggerMessage(EventId = 6402, Level = LogLevel.Debug, Message = "Trousseau secrets under '{Prefix}' not reloaded again: {Error} ({Failures} reloads in a row)")]
    private static partial void LogReloadFailedAgain(ILogger logger, string prefix, string error, int failures);

    [LoggerMessage(EventId = 6403, Level = LogLevel.Information, Message = "Trousseau secrets under '{Prefix}' reload again after {Failures} failed reloads")]
    private static partial void LogReloadsSucceedAgain(ILogger logger, string prefix, int failures);

    [LoggerMessage(EventId = 6404, Level = LogLevel.Error, Message = "OnLoadError of the Trousseau secrets under '{Prefix}' threw {Error}; it is called again at the next failure, and reloads go on")]
    private static partial void LogOnLoadErrorThrew(ILogger logger, string prefix, string error, Exception exception);

    [LoggerMessage(EventId = 6405, Level = LogLevel.Warning, Message = "The store's watch of the Trousseau secrets under '{Prefix}' ended with {Error}; changes now arrive only at the next poll (none when ReloadInterval is infinite) or IConfigurationRoot.Reload()")]
    private static partial void LogWatchEnded(ILogger logger, string prefix, string error, Exception exception);

    [LoggerMessage(EventId = 6406, Level = LogLevel.Warning, Message = "Trousseau secrets under '{Prefix}': {Error}: {Message} Its last values stay, or it has none; each poll tries it again, and this is logged again only once it has been read")]
    private static partial void LogSecretNotLoaded(ILogger logger, string prefix, string error, string message);

    [LoggerMessage(EventId = 6407, Level = LogLevel.Information, Message = "Trousseau secrets under '{Prefix}': secret '{Name}' is read into configuration again")]
    private static partial void LogSecretReadAgain(ILogger logger, string prefix, string name);

    [LoggerMessage(EventId = 6408, Level = LogLevel.Warning, Message = "Trousseau secrets under '{Prefix}': secret '{Name}' has data keys that differ only in case, which configuration keys ignore: '{Loaded}' is loaded and '{LeftOut}' is left out. Give each key one spelling; this is logged again only once the secret has had one")]
    private static partial void LogKeysDifferOnlyInCase(ILogger logger, string prefix, string name, string loaded, string leftOut);

    [LoggerMessage(EventId = 6409, Level = LogLevel.Debug, Message = "Trousseau secrets under '{Prefix}' reload for {Changes} changes the store's watch reported, up to revision {Revision}")]
    private static partial void LogReloadingForChanges(ILogger logger, string prefix, int changes, long revision);
}
