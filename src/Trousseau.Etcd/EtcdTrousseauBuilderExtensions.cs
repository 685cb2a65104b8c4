using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Etcd;
using Trousseau.Etcd.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds etcd as a Trousseau store.</summary>
public static class EtcdTrousseauBuilderExtensions
{
    /// <summary>
    /// Registers the etcd store (<c>Trousseau:Store=etcd</c>), with options bound from <c>Trousseau:Etcd</c> and
    /// checked at start. <c>Username</c> and <c>Password</c> are followed when the configuration reloads; the other
    /// settings are read once.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder UseEtcdStore(this ITrousseauBuilder builder, Action<EtcdStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddBackendOptions<EtcdStoreOptions>("Etcd", static (options, section) => section.Bind(options), configure);
        builder.AddAnnotationsValidator<EtcdStoreOptions, EtcdOptionsAnnotationsValidator>();
        builder.AddSectionValidator<EtcdStoreOptions, EtcdOptionsValidator>(_ => new EtcdOptionsValidator(builder.ConfigurationPath("Etcd")));

        builder.Services.TryAddSingleton(sp => new EtcdConnection(sp.GetRequiredService<IOptionsMonitor<EtcdStoreOptions>>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.TryAddSingleton(sp => new EtcdSecretStore(
            sp.GetRequiredService<EtcdConnection>(),
            sp.GetRequiredService<IOptions<EtcdStoreOptions>>(),
            (sp.GetService<ILoggerFactory>() ?? NullLoggerFactory.Instance).CreateLogger<EtcdSecretStore>(),
            sp.GetRequiredService<TimeProvider>()));
        return builder.AddSecretStore(EtcdSecretStore.StoreName, sp => sp.GetRequiredService<EtcdSecretStore>());
    }
}
