using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Trousseau;
using Trousseau.Kms;
using Trousseau.Kms.Internal;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the Kubernetes KMS plugin to a host.</summary>
public static class KmsTrousseauBuilderExtensions
{
    /// <summary>
    /// Serves the KMS v2 and v1 plugin on a Unix socket while the host runs, with the registered key provider as
    /// the key-encryption key. Options bind from <c>Trousseau:Kms</c>.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder AddKmsPlugin(this ITrousseauBuilder builder, Action<KmsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddBackendOptions<KmsOptions>("Kms", static (options, section) => section.Bind(options), configure);
        builder.AddAnnotationsValidator<KmsOptions, KmsOptionsAnnotationsValidator>();
        builder.AddSectionValidator<KmsOptions, KmsOptionsValidator>(services => new KmsOptionsValidator(builder.ConfigurationPath("Kms"), services));
        builder.Services.TryAddSingleton<KmsPlugin>();
        builder.Services.TryAddSingleton<KmsTelemetry>();
        builder.Services.AddHostedService<KmsSocketHost>();
        return builder;
    }
}
