using Microsoft.Extensions.Hosting;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Keeps the Vault provider's health fresh in the background (every 5 s), so that readiness probes and KMS Status
/// answer from memory. Only a healthy answer is reused; a failed Vault call drops it at once.
/// </summary>
internal sealed class VaultHealthMonitor(VaultTransitKeyProvider provider, TimeProvider time) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            await provider.RefreshHealthAsync(stoppingToken).ConfigureAwait(false);
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }
}
