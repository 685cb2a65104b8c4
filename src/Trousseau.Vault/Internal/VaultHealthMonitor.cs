using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Trousseau.Vault.Internal;

/// <summary>
/// Keeps the Vault provider's health fresh in the background (every 5 s), so that readiness probes and KMS Status
/// answer from memory. Only a healthy answer is reused; a failed Vault call drops it at once. Whatever a check
/// throws is logged and the next tick checks again: Vault's answers never stop the host.
/// </summary>
internal sealed partial class VaultHealthMonitor(VaultTransitKeyProvider provider, TimeProvider time, ILogger<VaultHealthMonitor> logger) : BackgroundService
{
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(5);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                await provider.RefreshHealthAsync(stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogCheckFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    [LoggerMessage(EventId = 5004, Level = LogLevel.Error, Message = "The Vault health check failed unexpectedly; checking again at the next tick.")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);
}
