using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Trousseau;
using Trousseau.Kms;

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
        builder.AddBackendOptions("Kms", configure)
            .Validate(
                o => !o.Enabled || !string.IsNullOrWhiteSpace(o.Socket),
                $"{builder.ConfigurationPath("Kms:Socket")} must be set when {builder.ConfigurationPath("Kms:Enabled")} is true.")
            .Validate(
                o => o.ProviderTimeout > TimeSpan.Zero && o.ProviderTimeout <= TimeSpan.FromSeconds(30),
                $"{builder.ConfigurationPath("Kms:ProviderTimeout")} must be a time span above 00:00:00 and at most 00:00:30.")
            .Validate(
                o => o.StatusCacheDuration >= TimeSpan.Zero && o.StatusCacheDuration <= TimeSpan.FromSeconds(50),
                $"{builder.ConfigurationPath("Kms:StatusCacheDuration")} must be a time span from 00:00:00 to 00:00:50.");
        builder.Services.TryAddSingleton<KmsPlugin>();
        builder.Services.AddHostedService<KmsSocketHost>();
        return builder;
    }
}
