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
        return builder
            .Add(new HealthCheckRegistration(KeyProviderCheckName, sp => new DependencyHealthCheck(sp.GetRequiredService<IKeyProvider>().CheckHealthAsync), HealthStatus.Unhealthy, [Tag]))
            .Add(new HealthCheckRegistration(StoreCheckName, sp => new DependencyHealthCheck(sp.GetRequiredService<ISecretStore>().CheckHealthAsync), HealthStatus.Unhealthy, [Tag]));
    }
}
