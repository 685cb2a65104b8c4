using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trousseau.Hosting.Internal;

/// <summary>
/// An ASP.NET Core health check that answers from <see cref="DependencyMonitor"/>'s last result, so that a probe
/// never calls Vault or etcd itself.
/// </summary>
internal sealed class DependencyHealthCheck(Func<DependencyHealth> lastResult) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var health = lastResult();
        var status = !health.IsHealthy ? context.Registration.FailureStatus
            : health.IsDegraded ? HealthStatus.Degraded
            : HealthStatus.Healthy;
        return Task.FromResult(new HealthCheckResult(status, health.Description));
    }
}
