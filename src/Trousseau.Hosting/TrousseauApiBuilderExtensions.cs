using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Trousseau.Hosting;
using Trousseau.Hosting.Api;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers the services of Trousseau's HTTP API.</summary>
public static class TrousseauApiBuilderExtensions
{
    /// <summary>
    /// Registers what <c>app.MapTrousseauApi()</c> needs, with options bound from <c>Trousseau:Api</c> and validated
    /// at start (a token file is required in token mode).
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets the options, after configuration binding.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder AddHttpApi(this ITrousseauBuilder builder, Action<TrousseauApiOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var tokenFile = builder.ConfigurationPath("Api:Auth:TokenFile");
        var maxBody = builder.ConfigurationPath("Api:MaxRequestBodyBytes");
        var mode = builder.ConfigurationPath("Api:Auth:Mode");
        var role = builder.ConfigurationPath("Api:Auth:KubernetesRole");
        builder.AddBackendOptions("Api", configure)
            .Validate(o => o.Auth.Mode != TrousseauApiAuthMode.Token || !string.IsNullOrWhiteSpace(o.Auth.TokenFile), $"{tokenFile} is required when the API uses token authentication.")
            .Validate(o => o.Auth.Mode != TrousseauApiAuthMode.Kubernetes || !string.IsNullOrWhiteSpace(o.Auth.KubernetesRole), $"{role} is required when {mode} is kubernetes.")
            .Validate<IServiceProvider>(
                (o, services) => o.Auth.Mode != TrousseauApiAuthMode.Kubernetes || services.GetService<Trousseau.ICallerVerifier>() is not null,
                $"{mode} is kubernetes, which checks callers through Vault: use the Vault key provider (Trousseau:KeyProvider=vault).")
            .Validate(o => o.MaxRequestBodyBytes is >= 64 * 1024 and <= 64L * 1024 * 1024, $"{maxBody} must be between 65536 and 67108864.");
        builder.Services.TryAddSingleton<ApiToken>();
        builder.Services.TryAddSingleton<ApiAuthenticationFilter>();
        builder.Services.TryAddSingleton<ApiExceptionFilter>();
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, ApiTokenInitializer>());
        return builder;
    }
}
