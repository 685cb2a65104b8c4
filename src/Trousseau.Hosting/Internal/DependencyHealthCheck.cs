using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trousseau.Hosting.Internal;

/// <summary>Turns a dependency's own health check into an ASP.NET Core health check.</summary>
internal sealed class DependencyHealthCheck(Func<CancellationToken, ValueTask<DependencyHealth>> check) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var health = await check(cancellationToken).ConfigureAwait(false);
            return new HealthCheckResult(health.IsHealthy ? HealthStatus.Healthy : context.Registration.FailureStatus, health.Description);
        }
        catch (TrousseauException ex)
        {
            return new HealthCheckResult(context.Registration.FailureStatus, ex.Message);
        }
    }
}
