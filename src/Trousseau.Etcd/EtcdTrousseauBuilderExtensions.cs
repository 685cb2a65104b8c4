using Microsoft.Extensions.DependencyInjection.Extensions;
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
    /// checked at start.
    /// </summary>
    /// <param name="builder">The Trousseau builder.</param>
    /// <param name="configure">Sets options in code, after configuration.</param>
    /// <returns>The builder.</returns>
    public static ITrousseauBuilder UseEtcdStore(this ITrousseauBuilder builder, Action<EtcdStoreOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        string Key(string name) => builder.ConfigurationPath("Etcd:" + name);
        builder.AddBackendOptions("Etcd", configure)
            .Validate(o => o.Endpoints.Count > 0, $"{Key("Endpoints")} must list at least one etcd endpoint, for example http://127.0.0.1:2379.")
            .Validate(o => o.Endpoints.All(e => e.IsAbsoluteUri && (e.Scheme == Uri.UriSchemeHttp || e.Scheme == Uri.UriSchemeHttps)), $"{Key("Endpoints")} must be http(s) URLs.")
            .Validate(o => o.Prefix.Length > 0 && o.Prefix.EndsWith('/'), $"{Key("Prefix")} must end with '/', for example /trousseau/.")
            .Validate(o => string.IsNullOrEmpty(o.Password) || !string.IsNullOrEmpty(o.Username), $"{Key("Username")} is required with {Key("Password")}.")
            .Validate(o => (o.CertFile is null) == (o.KeyFile is null), $"{Key("CertFile")} and {Key("KeyFile")} go together.")
            .Validate(o => new[] { o.CaFile, o.CertFile, o.KeyFile }.All(f => f is null || File.Exists(f)), $"{Key("CaFile")}, {Key("CertFile")} or {Key("KeyFile")} names a file that does not exist.");

        builder.Services.AddHttpClient(EtcdGateway.ClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => EtcdTls.CreateHandler(sp.GetRequiredService<IOptions<EtcdStoreOptions>>().Value));
        builder.Services.TryAddSingleton<EtcdGateway>();
        builder.Services.TryAddSingleton(sp => new EtcdSecretStore(sp.GetRequiredService<EtcdGateway>(), sp.GetRequiredService<IOptions<EtcdStoreOptions>>()));
        return builder.AddSecretStore(EtcdSecretStore.StoreName, sp => sp.GetRequiredService<EtcdSecretStore>());
    }
}
