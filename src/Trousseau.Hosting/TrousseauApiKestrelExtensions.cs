using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Hosting.Api;

namespace Microsoft.AspNetCore.Hosting;

/// <summary>Serves Kestrel's HTTPS endpoints with the TLS settings of Trousseau's HTTP API.</summary>
public static class TrousseauApiKestrelExtensions
{
    /// <summary>
    /// Serves Kestrel's HTTPS endpoints (its <c>https://</c> URLs) with <c>Trousseau:Api:Tls</c>: the certificate of
    /// <c>CertFile</c> and <c>KeyFile</c>, read again when the files change, so that a renewed certificate is served
    /// without a restart; and with <c>ClientCaFile</c>, mutual TLS: a connection without a client certificate issued
    /// under that CA is refused. Without <c>CertFile</c> the endpoints are left as Kestrel configures them. Register
    /// the API first with <c>AddTrousseau(...).AddHttpApi()</c>, which checks the files at start:
    /// <c>builder.WebHost.ConfigureKestrel(kestrel => kestrel.UseTrousseauApiTls());</c>
    /// </summary>
    /// <param name="kestrel">Kestrel's options.</param>
    /// <returns>The options.</returns>
    public static KestrelServerOptions UseTrousseauApiTls(this KestrelServerOptions kestrel)
    {
        ArgumentNullException.ThrowIfNull(kestrel);
        kestrel.ConfigureHttpsDefaults(https =>
            (kestrel.ApplicationServices.GetService<ApiTlsCertificate>()
                ?? throw new InvalidOperationException("UseTrousseauApiTls needs its services: call services.AddTrousseau(...).AddHttpApi() first."))
            .Configure(https));
        return kestrel;
    }
}
