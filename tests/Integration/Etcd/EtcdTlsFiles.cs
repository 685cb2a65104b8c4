using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>A CA, a server certificate for 127.0.0.1 and a client certificate it issued, as PEM files in a directory.</summary>
internal sealed record EtcdTlsFiles(string CaFile, string ServerCert, string ServerKey, string ClientCert, string ClientKey)
{
    /// <summary>Writes a fresh CA and the certificates it issues under <paramref name="directory"/>, file names starting with <paramref name="name"/>.</summary>
    public static EtcdTlsFiles Create(string directory, string name)
    {
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest($"CN={name} test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));

        var files = new EtcdTlsFiles(
            Path.Combine(directory, $"{name}-ca.pem"), Path.Combine(directory, $"{name}-server.pem"), Path.Combine(directory, $"{name}-server-key.pem"),
            Path.Combine(directory, $"{name}-client.pem"), Path.Combine(directory, $"{name}-client-key.pem"));
        File.WriteAllText(files.CaFile, ca.ExportCertificatePem());
        Issue(ca, "CN=127.0.0.1", serverAuth: true, files.ServerCert, files.ServerKey);
        Issue(ca, "CN=trousseau", serverAuth: false, files.ClientCert, files.ClientKey);
        return files;
    }

    private static void Issue(X509Certificate2 ca, string subject, bool serverAuth, string certFile, string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(serverAuth ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (serverAuth)
        {
            var names = new SubjectAlternativeNameBuilder();
            names.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(names.Build());
        }

        using var certificate = request.Create(ca, DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1), RandomNumberGenerator.GetBytes(16));
        File.WriteAllText(certFile, certificate.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
    }
}
