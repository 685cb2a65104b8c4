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
        string Key(string name) => builder.ConfigurationPath("Vault:" + name);
        builder.AddBackendOptions("Vault", configure)
            .Validate(o => o.Address is { IsAbsoluteUri: true } a && (a.Scheme == Uri.UriSchemeHttp || a.Scheme == Uri.UriSchemeHttps), $"{Key("Address")} must be an http(s) URL, for example https://vault:8200.")
            .Validate(o => IsMethod(o, "token") || IsMethod(o, "kubernetes") || IsMethod(o, "approle"), $"{Key("Auth:Method")} must be token, kubernetes or approle.")
            .Validate(o => !IsMethod(o, "token") || !string.IsNullOrEmpty(o.Auth.Token) || !string.IsNullOrEmpty(o.Auth.TokenFile), $"{Key("Auth:Token")} or {Key("Auth:TokenFile")} is required for token auth.")
            .Validate(o => !IsMethod(o, "kubernetes") || !string.IsNullOrEmpty(o.Auth.Role), $"{Key("Auth:Role")} is required for kubernetes auth.")
            .Validate(o => !IsMethod(o, "approle") || (!string.IsNullOrEmpty(o.Auth.RoleId) && (!string.IsNullOrEmpty(o.Auth.SecretId) || !string.IsNullOrEmpty(o.Auth.SecretIdFile))), $"{Key("Auth:RoleId")} and {Key("Auth:SecretId")} (or {Key("Auth:SecretIdFile")}) are required for approle auth.")
            .Validate(o => !string.IsNullOrWhiteSpace(o.TransitMount) && !string.IsNullOrWhiteSpace(o.KeyName), $"{Key("TransitMount")} and {Key("KeyName")} must not be empty.")
            .Validate(o => o.CaFile is null || File.Exists(o.CaFile), $"{Key("CaFile")} names a file that does not exist.");

        builder.Services.AddHttpClient(VaultHttp.ClientName, (sp, client) =>
            {
                var address = sp.GetRequiredService<IOptions<VaultOptions>>().Value.Address!;
                client.BaseAddress = new Uri(address.AbsoluteUri.TrimEnd('/') + "/");
                client.Timeout = Timeout.InfiniteTimeSpan;
            })
            .ConfigurePrimaryHttpMessageHandler(sp => VaultTls.CreateHandler(sp.GetRequiredService<IOptions<VaultOptions>>().Value.CaFile));
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<VaultHttp>();
        builder.Services.TryAddSingleton<VaultTokenSource>();
        builder.Services.TryAddSingleton(sp => new VaultTransitKeyProvider(
            sp.GetRequiredService<VaultHttp>(), sp.GetRequiredService<VaultTokenSource>(), sp.GetRequiredService<IOptions<VaultOptions>>(), sp.GetRequiredService<TimeProvider>()));
        builder.Services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, VaultHealthMonitor>());
        builder.Services.TryAddSingleton<ICallerVerifier>(sp => new VaultKubernetesCallerVerifier(
            sp.GetRequiredService<VaultHttp>(), sp.GetRequiredService<IOptions<VaultOptions>>(), sp.GetRequiredService<TimeProvider>()));
        return builder.AddKeyProvider(VaultTransitKeyProvider.ProviderName, sp => sp.GetRequiredService<VaultTransitKeyProvider>());
    }

    private static bool IsMethod(VaultOptions options, string method) => string.Equals(options.Auth.Method, method, StringComparison.OrdinalIgnoreCase);
}
