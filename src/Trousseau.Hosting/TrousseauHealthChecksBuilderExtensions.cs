using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
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

    /// <summary>Adds one check for the key provider and one for the store, tagged <see cref="Tag"/>.</summary>
    /// <param name="builder">The health checks builder.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddTrousseau(this IHealthChecksBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.TryAddSingleton<DependencyStateLog>();
        return builder
            .Add(new HealthCheckRegistration(KeyProviderCheckName, sp => KeyProviderCheck(sp), HealthStatus.Unhealthy, [Tag]))
            .Add(new HealthCheckRegistration(StoreCheckName, sp => StoreCheck(sp), HealthStatus.Unhealthy, [Tag]));
    }

    private static DependencyHealthCheck KeyProviderCheck(IServiceProvider services)
    {
        var provider = services.GetRequiredService<IKeyProvider>();
        return new DependencyHealthCheck(DependencyStateLog.KeyProviderName(provider), provider.CheckHealthAsync, services.GetRequiredService<DependencyStateLog>());
    }

    private static DependencyHealthCheck StoreCheck(IServiceProvider services)
    {
        var store = services.GetRequiredService<ISecretStore>();
        return new DependencyHealthCheck(DependencyStateLog.StoreName(store), store.CheckHealthAsync, services.GetRequiredService<DependencyStateLog>());
    }
}
