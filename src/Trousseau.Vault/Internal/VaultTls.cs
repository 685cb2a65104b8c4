using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Trousseau.Vault.Internal;

/// <summary>The HTTP handler for Vault: the system trust store, or only the CA bundle of <c>Vault:CaFile</c>.</summary>
internal static class VaultTls
{
    public static SocketsHttpHandler CreateHandler(string? caFile)
    {
        var handler = new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(5), ConnectTimeout = TimeSpan.FromSeconds(3) };
        if (caFile is null)
        {
            return handler;
        }

        var authorities = PemFiles.ReadCertificates(caFile);
        handler.SslOptions = new SslClientAuthenticationOptions
        {
            CertificateChainPolicy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, CustomTrustStore = { }, RevocationMode = X509RevocationMode.NoCheck },
        };
        handler.SslOptions.CertificateChainPolicy.CustomTrustStore.AddRange(authorities);
        return handler;
    }
}
