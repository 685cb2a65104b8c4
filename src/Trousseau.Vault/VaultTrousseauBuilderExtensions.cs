using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Vault;
using Trousseau.Vault.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds HashiCorp Vault Transit as a Trousseau key provider.</summary>
public static class VaultTrousseauBuilderExtensions
{
    /// <summary>
    /// Registers the Vault Transit key provider (<c>Trousseau:KeyProvider=vault</c>), with options bound from
    /// <c>Trousseau:Vault</c> and checked at start.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder UseVaultTransit(this ITrousseauBuilder builder, Action<VaultOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddBackendOptions<VaultOptions>("Vault", static (options, section) => section.Bind(options), configure);
        builder.AddAnnotationsValidator<VaultOptions, VaultOptionsAnnotationsValidator>();
        builder.AddSectionValidator<VaultOptions, VaultOptionsValidator>(_ => new VaultOptionsValidator(builder.ConfigurationPath("Vault")));

        if (!builder.Services.Any(service => service.ServiceType == typeof(VaultHttp)))
        {
            // Once, however often it is called: a second resilience handler would retry each attempt of the first.
            builder.Services.AddHttpClient(VaultHttp.ClientName, (sp, client) =>
                {
                    var address = sp.GetRequiredService<IOptions<VaultOptions>>().Value.Address!;
                    client.BaseAddress = new Uri(address.AbsoluteUri.TrimEnd('/') + "/");
                    client.Timeout = Timeout.InfiniteTimeSpan;
                })
                .ConfigurePrimaryHttpMessageHandler(sp => VaultTls.CreateHandler(sp.GetRequiredService<IOptions<VaultOptions>>().Value.CaFile))
                .AddResilienceHandler(VaultResilience.PipelineName, (pipeline, context) => VaultResilience.Configure(
                    pipeline, context.ServiceProvider.GetRequiredService<IOptions<VaultOptions>>().Value, context.ServiceProvider.GetRequiredService<TimeProvider>()));
        }

        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<VaultHttp>();
        builder.Services.TryAddSingleton<VaultMetrics>();
        var settingsPath = ServiceDescriptor.Singleton(_ => new VaultSettingsPath(builder.ConfigurationPath("Vault")));
        if (builder.Configuration is null)
        {
            builder.Services.TryAdd(settingsPath);
        }
        else
        {
            // A builder given a section names its keys, whichever AddTrousseau call came first.
            builder.Services.Replace(settingsPath);
        }

        builder.Services.TryAddSingleton<VaultTokenSource>();
        builder.Services.TryAddSingleton(sp => new VaultTransitKeyProvider(
            sp.GetRequiredService<VaultHttp>(), sp.GetRequiredService<VaultTokenSource>(), sp.GetRequiredService<IOptions<VaultOptions>>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<VaultSettingsPath>().Value + ":Timeout"));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, VaultHealthMonitor>());
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, VaultTokenRevocationAtStop>());
        builder.Services.TryAddSingleton<ICallerVerifier>(sp => new VaultKubernetesCallerVerifier(
            sp.GetRequiredService<VaultHttp>(), sp.GetRequiredService<IOptions<VaultOptions>>()));
        return builder.AddKeyProvider(VaultTransitKeyProvider.ProviderName, sp => sp.GetRequiredService<VaultTransitKeyProvider>());
    }
}
