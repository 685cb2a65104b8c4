using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trousseau.Hosting.Internal;

/// <summary>
/// An ASP.NET Core health check that answers from <see cref="DependencyMonitor"/>'s last result, so that a probe
/// never calls Vault or etcd itself; before the monitor's first check has ended, it waits for that check.
/// </summary>
internal sealed class DependencyHealthCheck(DependencyMonitor monitor, Func<DependencyMonitor, DependencyHealth> lastResult) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        await monitor.FirstCheckAsync(cancellationToken).ConfigureAwait(false);
        var health = lastResult(monitor);
        var status = health switch
        {
            { IsHealthy: false } => context.Registration.FailureStatus,
            { IsDegraded: true } => HealthStatus.Degraded,
            _ => HealthStatus.Healthy,
        };
        return new HealthCheckResult(status, health.Description);
    }
}
