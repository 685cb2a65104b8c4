using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trousseau.Hosting.Audit;

/// <summary>
/// Unhealthy while the audit trail refuses calls because it cannot write them (fail-closed), so that a readiness probe
/// takes the instance out of service instead of sending it calls it answers with 503.
/// </summary>
internal sealed class AuditHealthCheck(IAuditTrail trail) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(trail.CanRecord()
            ? HealthCheckResult.Healthy("The audit trail is written.")
            : new HealthCheckResult(context.Registration.FailureStatus, "The audit trail cannot be written, and calls are refused until it can; the server's log says why."));
}
