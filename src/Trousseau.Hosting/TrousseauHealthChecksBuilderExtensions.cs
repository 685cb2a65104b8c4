using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Trousseau;
using Trousseau.Hosting.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds Trousseau's dependencies to ASP.NET Core health checks.</summary>
public static class TrousseauHealthChecksBuilderExtensions
{
    /// <summary>The name of the key provider's check.</summary>
    public const string KeyProviderCheckName = "key-provider";

    /// <summary>The name of the store's check.</summary>
    public const string StoreCheckName = "store";

    /// <summary>The tag both checks carry, so that a readiness endpoint can select them.</summary>
    public const string Tag = "trousseau";

    /// <summary>
    /// Adds one check for the key provider and one for the store, tagged <see cref="Tag"/>. Both answer from a background
    /// monitor that checks each dependency every 5 seconds, so that a probe never calls Vault or etcd itself. Calling it
    /// again (from a module of the application, say) adds nothing more.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddTrousseau(this IHealthChecksBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        if (builder.Services.Any(service => service.ServiceType == typeof(DependencyMonitor)))
        {
            // Health checks refuse two registrations of one name, and would stop the application at its first report.
            return builder;
        }

        builder.Services.TryAddSingleton<DependencyStateLog>();
        builder.Services.TryAddSingleton(static sp =>
        {
            var services = InProcessRegistration.Require(sp, "AddHealthChecks().AddTrousseau()");
            return new DependencyMonitor(
                services.GetRequiredService<IKeyProvider>(),
                services.GetRequiredService<ISecretStore>(),
                services.GetRequiredService<DependencyStateLog>(),
                services.GetService<TimeProvider>() ?? TimeProvider.System);
        });
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, DependencyMonitor>(sp => sp.GetRequiredService<DependencyMonitor>()));
        return builder
            .Add(new HealthCheckRegistration(KeyProviderCheckName, sp => new DependencyHealthCheck(sp.GetRequiredService<DependencyMonitor>(), static monitor => monitor.KeyProvider), HealthStatus.Unhealthy, [Tag]))
            .Add(new HealthCheckRegistration(StoreCheckName, sp => new DependencyHealthCheck(sp.GetRequiredService<DependencyMonitor>(), static monitor => monitor.Store), HealthStatus.Unhealthy, [Tag]));
    }
}
