using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trousseau.Remote;

/// <summary>
/// The <see cref="HttpMessageHandler"/> for an <see cref="HttpClient"/> that calls trousseaud over TLS: it trusts the
/// CA of <see cref="TrousseauClientTlsOptions.CaFile"/> (else the system's) and presents the client certificate of
/// <see cref="TrousseauClientTlsOptions.CertFile"/>. A server certificate that is not trusted or not issued for the
/// host called fails the request with an <see cref="HttpRequestException"/> whose inner
/// <see cref="AuthenticationException"/> says why, which <see cref="TrousseauClient"/> reports as trousseaud being
/// unavailable. It follows no redirect: trousseaud never sends one, and following it would carry the request, secret
/// values included, to an address the caller did not give; <see cref="TrousseauClient"/> reports it as invalid input.
/// </summary>
public static class TrousseauHttpHandler
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";

    /// <summary>Creates the handler; the caller owns it (or the <see cref="HttpClient"/> it is given to).</summary>
    /// <param name="tls">The CA and client certificate files.</param>
    /// <returns>A handler to pass to <see cref="HttpClient(HttpMessageHandler)"/>.</returns>
    /// <exception cref="ArgumentException">A certificate is given without its key, or the reverse.</exception>
    /// <exception cref="FileNotFoundException">A file does not exist; the message names its full path.</exception>
    /// <exception cref="InvalidDataException">A file is a directory or does not hold what it should; the message names its full path.</exception>
    public static SocketsHttpHandler Create(TrousseauClientTlsOptions tls)
    {
        ArgumentNullException.ThrowIfNull(tls);
        if (string.IsNullOrEmpty(tls.CertFile) != string.IsNullOrEmpty(tls.KeyFile))
        {
            throw new ArgumentException("A client certificate needs its key: set both CertFile and KeyFile, or neither.", nameof(tls));
        }

        var handler = new SocketsHttpHandler { AllowAutoRedirect = false };
        var caFile = tls.CaFile is null ? null : Existing(tls.CaFile);
        var authorities = caFile is null ? null : PemFiles.ReadCertificates(caFile);
        if (authorities is not null)
        {
            handler.SslOptions.CertificateChainPolicy = new X509ChainPolicy
            {
                TrustMode = X509ChainTrustMode.CustomRootTrust,
                RevocationMode = X509RevocationMode.NoCheck,
                DisableCertificateDownloads = true,
                ApplicationPolicy = { new Oid(ServerAuthentication) },
            };
            handler.SslOptions.CertificateChainPolicy.CustomTrustStore.AddRange(authorities);
        }

        handler.SslOptions.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
            errors == SslPolicyErrors.None ? true : throw new AuthenticationException(Refusal((sender as SslStream)?.TargetHostName, certificate, chain, errors, caFile));

        if (tls.CertFile is not null)
        {
            handler.SslOptions.ClientCertificateContext = ClientCertificate(Existing(tls.CertFile), Existing(tls.KeyFile!));
        }

        return handler;
    }

    private static string Refusal(string? host, X509Certificate? certificate, X509Chain? chain, SslPolicyErrors errors, string? caFile)
    {
        if (certificate is null)
        {
            return $"trousseaud at {host} sent no TLS certificate.";
        }

        var described = $"{certificate.Subject}, issued by {certificate.Issuer}";
        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var status = string.Join(", ", chain?.ChainStatus.Select(s => s.Status).Distinct() ?? []);
            return caFile is null
                ? $"the TLS certificate of trousseaud at {host} ({described}) is not trusted by this system's CAs ({status}); give the CA that issued it as the CA file."
                : $"the TLS certificate of trousseaud at {host} ({described}) does not chain to a CA in {caFile} ({status}).";
        }

        return $"the TLS certificate of trousseaud ({described}) is not issued for {host}: its subject alternative names do not include it.";
    }

    private static SslStreamCertificateContext ClientCertificate(string certFile, string keyFile)
    {
        var (certificate, intermediates) = PemFiles.ReadCertificateWithKey(certFile, keyFile);
        return SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
    }

    private static string Existing(string path)
    {
        var fullPath = Path.GetFullPath(path);
        if (File.Exists(fullPath))
        {
            return fullPath;
        }

        throw Directory.Exists(fullPath)
            ? new InvalidDataException($"The file {fullPath} is a directory, not a file.")
            : new FileNotFoundException($"The file {fullPath} does not exist.", fullPath);
    }
}
