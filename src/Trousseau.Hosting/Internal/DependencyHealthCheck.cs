using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trousseau.Hosting.Internal;

/// <summary>
/// Turns a dependency's own health check into an ASP.NET Core health check, logging changes of state through
/// <see cref="DependencyStateLog"/>.
/// </summary>
internal sealed class DependencyHealthCheck(string dependency, Func<CancellationToken, ValueTask<DependencyHealth>> check, DependencyStateLog stateLog) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        DependencyHealth health;
        try
        {
            health = await check(cancellationToken).ConfigureAwait(false);
        }
        catch (TrousseauException ex)
        {
            health = DependencyHealth.Unhealthy(ex.Message);
        }

        stateLog.Observe(dependency, health);
        return new HealthCheckResult(health.IsHealthy ? HealthStatus.Healthy : context.Registration.FailureStatus, health.Description);
    }
}
