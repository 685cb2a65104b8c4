using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Trousseau.Kms.Internal;

/// <summary>
/// The plugin's health for the standard gRPC health service on the socket (<c>grpc.health.v1.Health</c>): what
/// KMS v2 Status reports, SERVING while the key provider answers healthy and the audit trail can be written.
/// </summary>
internal sealed class KmsHealthCheck(KmsPlugin plugin, KmsCallAudit audit) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        var status = audit.Report(await plugin.StatusAsync(cancellationToken).ConfigureAwait(false));
        return status.Healthz == "ok" ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy(status.Healthz);
    }
}
