using Microsoft.Extensions.DependencyInjection.Extensions;
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
    /// <summary>
    /// Records every call to the HTTP API (<c>MapTrousseauApi</c>) and every Encrypt and Decrypt of the KMS plugin
    /// (<c>AddKmsPlugin</c>) as one hash-chained JSON line in <c>Trousseau:Audit:Path</c>, before the caller gets its
    /// answer; a call whose record cannot be written is refused unless <c>Trousseau:Audit:FailOpen</c> is set. Options
    /// bind from <c>Trousseau:Audit</c> and are validated at start.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets the options, after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder AddAuditTrail(this ITrousseauBuilder builder, Action<TrousseauAuditOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddBackendOptions("Audit", configure);
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TrousseauAuditOptions>, TrousseauAuditOptionsAnnotationsValidator>());
        builder.Services.TryAddSingleton(sp => new AuditTrailWriter(
            sp.GetRequiredService<IOptions<TrousseauAuditOptions>>(),
            sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance,
            sp.GetRequiredService<TimeProvider>()));
        builder.Services.TryAddSingleton<IAuditTrail>(sp => sp.GetRequiredService<AuditTrailWriter>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, AuditTrailWriter>(sp => sp.GetRequiredService<AuditTrailWriter>()));
        return builder;
    }
}
