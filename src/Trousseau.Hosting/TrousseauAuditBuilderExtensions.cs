using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Hosting;
using Trousseau.Hosting.Audit;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Trousseau's audit trail to a host.</summary>
public static class TrousseauAuditBuilderExtensions
{
    /// <summary>The name of the audit trail's health check.</summary>
    public const string AuditCheckName = "audit";

    /// <summary>
    /// Records every call to the HTTP API (<c>MapTrousseauApi</c>) and every Encrypt and Decrypt of the KMS plugin
    /// (<c>AddKmsPlugin</c>) as one hash-chained JSON line in <c>Trousseau:Audit:Path</c>, before the caller gets its
    /// answer; a call whose record cannot be written is refused unless <c>Trousseau:Audit:FailOpen</c> is set. Options
    /// bind from <c>Trousseau:Audit</c> and are validated at start. Adds the health check
    /// <see cref="AuditCheckName"/> (tagged <see cref="TrousseauHealthChecksBuilderExtensions.Tag"/>, so that
    /// <c>/readyz</c> includes it), unhealthy while calls are refused because the trail cannot be written.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets the options, after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder AddAuditTrail(this ITrousseauBuilder builder, Action<TrousseauAuditOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var first = !builder.Services.Any(service => service.ServiceType == typeof(AuditTrailWriter));
        builder.AddBackendOptions<TrousseauAuditOptions>("Audit", static (options, section) => section.Bind(options), configure);
        builder.AddAnnotationsValidator<TrousseauAuditOptions, TrousseauAuditOptionsAnnotationsValidator>();
        builder.Services.TryAddSingleton(sp => new AuditTrailWriter(
            sp.GetRequiredService<IOptions<TrousseauAuditOptions>>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            sp.GetRequiredService<TimeProvider>()));
        builder.Services.TryAddSingleton<IAuditTrail>(sp => sp.GetRequiredService<AuditTrailWriter>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, AuditTrailWriter>(sp => sp.GetRequiredService<AuditTrailWriter>()));
        if (first)
        {
            // After the checks registered by other calls, so that the key provider and the store come first in reports.
            builder.Services.AddHealthChecks();
            builder.Services.PostConfigure<HealthCheckServiceOptions>(options => options.Registrations.Add(new HealthCheckRegistration(
                AuditCheckName, sp => new AuditHealthCheck(sp.GetRequiredService<IAuditTrail>()), HealthStatus.Unhealthy, [TrousseauHealthChecksBuilderExtensions.Tag])));
        }

        return builder;
    }
}
