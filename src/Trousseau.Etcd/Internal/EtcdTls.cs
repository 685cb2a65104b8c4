using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Trousseau.Etcd.Internal;

/// <summary>The HTTP handler for etcd: its CA bundle and client certificate when configured.</summary>
internal static class EtcdTls
{
    public static SocketsHttpHandler CreateHandler(EtcdStoreOptions options)
    {
        var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(2), PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        if (options.CaFile is null && options.CertFile is null)
        {
            return handler;
        }

        var ssl = new SslClientAuthenticationOptions();
        if (options.CaFile is not null)
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            var authorities = new X509Certificate2Collection();
            authorities.ImportFromPemFile(options.CaFile);
            policy.CustomTrustStore.AddRange(authorities);
            ssl.CertificateChainPolicy = policy;
        }

        if (options.CertFile is not null && options.KeyFile is not null)
        {
            ssl.ClientCertificates = [X509Certificate2.CreateFromPemFile(options.CertFile, options.KeyFile)];
        }

        handler.SslOptions = ssl;
        return handler;
    }
}
