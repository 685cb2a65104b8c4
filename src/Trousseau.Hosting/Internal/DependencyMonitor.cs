using Microsoft.Extensions.Hosting;

namespace Trousseau.Hosting.Internal;

/// <summary>
/// Asks the key provider and the store for their health in the background, every <see cref="Interval"/>, so that
/// readiness probes answer from memory: however often <c>/readyz</c> is called, and however long a dependency stays
/// down, it costs at most one check per dependency per interval. A state change is logged once. The first check runs
/// while the host goes on starting, so that a Vault or etcd that accepts connections but does not answer holds up
/// neither <c>/healthz</c> nor the KMS socket; a readiness answer asked for meanwhile waits for it
/// (<see cref="FirstCheckAsync"/>), so that it is already real. Every wait follows the <see cref="TimeProvider"/> the
/// application registered (a <c>FakeTimeProvider</c> in its tests): the interval, a check's limit and that first wait.
/// </summary>
internal sealed class DependencyMonitor(IKeyProvider provider, ISecretStore store, DependencyStateLog stateLog, TimeProvider time) : BackgroundService
{
    /// <summary>How often each dependency is checked; also the most a readiness answer lags behind.</summary>
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    /// <summary>How long one check may take before the dependency counts as unavailable.</summary>
    public static readonly TimeSpan CheckTimeout = TimeSpan.FromSeconds(4);

    private static readonly DependencyHealth NotCheckedYet = DependencyHealth.Unhealthy("not checked yet");

    private readonly TaskCompletionSource _firstCheck = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Replaced whole, so that a reader on another thread never sees half of an update.
    private volatile Results _last = new(NotCheckedYet, NotCheckedYet);

    /// <summary>The key provider's health as last checked.</summary>
    public DependencyHealth KeyProvider => _last.KeyProvider;

    /// <summary>The store's health as last checked.</summary>
    public DependencyHealth Store => _last.Store;

    /// <summary>
    /// Ends once the first check has ended, or after twice <see cref="CheckTimeout"/>: the check is bounded by
    /// <see cref="CheckTimeout"/> from its own start, which comes before any readiness question, and the rest leaves a
    /// loaded machine the time to end it, so that the answer is the check's (a monitor the host never started leaves the
    /// health "not checked yet").
    /// </summary>
    public async Task FirstCheckAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _firstCheck.Task.WaitAsync(2 * CheckTimeout, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The health stays as last known: not checked yet.
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await CheckAllAsync(stoppingToken).ConfigureAwait(false);
        }
        finally
        {
            _firstCheck.TrySetResult();
        }

        using var timer = new PeriodicTimer(Interval, time);
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
        {
            await CheckAllAsync(stoppingToken).ConfigureAwait(false);
        }
    }

    private async Task CheckAllAsync(CancellationToken cancellationToken)
    {
        var providerCheck = CheckAsync(provider.CheckHealthAsync, cancellationToken);
        var storeCheck = CheckAsync(store.CheckHealthAsync, cancellationToken);
        var results = new Results(await providerCheck.ConfigureAwait(false), await storeCheck.ConfigureAwait(false));
        _last = results;
        stateLog.Observe(DependencyStateLog.KeyProviderName(provider), results.KeyProvider);
        stateLog.Observe(DependencyStateLog.StoreName(store), results.Store);
    }

    private async Task<DependencyHealth> CheckAsync(Func<CancellationToken, ValueTask<DependencyHealth>> check, CancellationToken stoppingToken)
    {
        using var limit = new CancellationTokenSource(CheckTimeout, time);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken, limit.Token);
        try
        {
            return await check(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            return DependencyHealth.Unhealthy($"no answer within {CheckTimeout.TotalSeconds:0} s");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Whatever a dependency throws, readiness reports it; the monitor itself never stops.
            return DependencyHealth.Unhealthy(e.Message);
        }
    }

    private sealed record Results(DependencyHealth KeyProvider, DependencyHealth Store);
}
