using Microsoft.Extensions.Configuration;

namespace Trousseau.Hosting.Configuration;

/// <summary>
/// Secrets as configuration: secret <c>db/login</c> with key <c>password</c> becomes <c>db:login:password</c>
/// (under the configured prefix). Reloads when a secret's revision changes, by polling and, with an etcd store,
/// by watching; <c>IOptionsMonitor</c> then sees the new values. Values live only in memory.
/// </summary>
internal sealed class TrousseauSecretsConfigurationProvider : ConfigurationProvider, IDisposable
{
    private readonly TrousseauSecretsConfigurationOptions _options;
    private readonly ITrousseau _trousseau;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _reload = new(1, 1);
    private Dictionary<string, long> _revisions = new(StringComparer.Ordinal);
    private Task? _polling;
    private Task? _watching;

    public TrousseauSecretsConfigurationProvider(TrousseauSecretsConfigurationOptions options)
    {
        _options = options;
        _trousseau = options.Trousseau ?? throw new ArgumentException("TrousseauSecretsConfigurationOptions.Trousseau is required.", nameof(options));
        if (options.Prefix is not { } prefix || (prefix.Length > 0 && !prefix.EndsWith('/')))
        {
            throw new ArgumentException(
                $"TrousseauSecretsConfigurationOptions.Prefix is '{options.Prefix}'; it must be empty or end with '/' (for example 'db/'): the secret names below it become configuration paths.",
                nameof(options));
        }

        if (options.ReloadInterval <= TimeSpan.Zero)
        {
            throw new ArgumentException("TrousseauSecretsConfigurationOptions.ReloadInterval must be positive.", nameof(options));
        }
    }

    public override void Load()
    {
        try
        {
            ReloadAsync(force: true, _stop.Token).GetAwaiter().GetResult();
        }
        catch (TrousseauException e) when (_options.Optional)
        {
            Data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            _options.OnLoadError?.Invoke(e);
        }

        _polling ??= Task.Run(PollAsync);
        if (_options.Watch is not null)
        {
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

    private async Task WatchAsync()
    {
        try
        {
            await foreach (var change in _options.Watch!.WatchAsync(_options.Prefix, _stop.Token).ConfigureAwait(false))
            {
                if (!await TryReloadAsync().ConfigureAwait(false))
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
        catch (Exception e) when (e is TrousseauException or ObjectDisposedException)
        {
            // The store gave up the watch (it retries what is transient itself); polling goes on.
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

    /// <summary>Reloads if a secret changed; returns whether to go on, which is not once disposed.</summary>
    private async Task<bool> TryReloadAsync()
    {
        try
        {
            if (await ReloadAsync(force: false, _stop.Token).ConfigureAwait(false))
            {
                OnReload();
            }

            return true;
        }
        catch (TrousseauException e) when (!_stop.IsCancellationRequested)
        {
            // Keep the last good values; the next poll or change tries again.
            _options.OnLoadError?.Invoke(e);
            return true;
        }
        catch (ObjectDisposedException)
        {
            // The library it reads through was disposed first: the application is stopping.
            return false;
        }
        catch (Exception e) when (e is OperationCanceledException or TrousseauException)
        {
            // Disposed during the reload, which ends here and changes nothing; a cancellation of the library's own (a
            // timeout) leaves the next poll to try again.
            return !_stop.IsCancellationRequested;
        }
    }

    /// <summary>Reads the secrets again if any revision changed; returns whether the values changed.</summary>
    private async Task<bool> ReloadAsync(bool force, CancellationToken cancellationToken)
    {
        await _reload.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var revisions = new Dictionary<string, long>(StringComparer.Ordinal);
            await foreach (var metadata in _trousseau.ListSecretsAsync(_options.Prefix, cancellationToken).ConfigureAwait(false))
            {
                revisions[metadata.Name] = metadata.Revision;
            }

            if (!force && revisions.Count == _revisions.Count && revisions.All(r => _revisions.TryGetValue(r.Key, out var known) && known == r.Value))
            {
                return false;
            }

            var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (var name in revisions.Keys)
            {
                Secret secret;
                try
                {
                    secret = await _trousseau.GetSecretAsync(name, cancellationToken).ConfigureAwait(false);
                }
                catch (SecretNotFoundException)
                {
                    continue;
                }

                var section = name[_options.Prefix.Length..].Replace('/', ':');
                foreach (var (key, value) in secret.Data)
                {
                    data[ConfigurationPath.Combine(section, key)] = value;
                }
            }

            cancellationToken.ThrowIfCancellationRequested();
            Data = data;
            _revisions = revisions;
            return true;
        }
        finally
        {
            _reload.Release();
        }
    }
}
