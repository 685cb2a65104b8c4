using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Trousseau.Etcd.Internal;

/// <summary>etcd's TLS: its CA bundle and the client certificate when configured.</summary>
internal static class EtcdTls
{
    /// <summary>
    /// Trusts the CA bundle (else the system's CAs) and presents the client certificate. The channel reaches every
    /// member under the first endpoint's host name, so a member's certificate is accepted when it names the host of
    /// any configured endpoint; a certificate that does not chain to a trusted CA never is.
    /// </summary>
    public static void Configure(SslClientAuthenticationOptions ssl, EtcdStoreOptions options)
    {
        if (options.CaFile is not null)
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(PemFiles.ReadCertificates(options.CaFile));
            ssl.CertificateChainPolicy = policy;
        }

        if (options.CertFile is not null && options.KeyFile is not null)
        {
            var (certificate, intermediates) = PemFiles.ReadCertificateWithKey(options.CertFile, options.KeyFile);
            PemFiles.Dispose(intermediates);
            ssl.ClientCertificates = [certificate];
        }

        var hosts = options.Endpoints.Select(e => e.IdnHost).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) =>
            errors == SslPolicyErrors.None
            || (errors == SslPolicyErrors.RemoteCertificateNameMismatch && certificate is X509Certificate2 presented && hosts.Exists(h => presented.MatchesHostname(h)));
    }
}
