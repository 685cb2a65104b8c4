using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// A CA made for one test class, which issues server and client certificates as PEM files, directly or through an
/// intermediate CA of its own.
/// </summary>
internal sealed class TestCertificateAuthority : IDisposable
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    private readonly X509Certificate2 _ca;

    // The PEM of the intermediate CAs between this CA and the root, which follow each certificate it issues.
    private readonly string _chainPem;

    private TestCertificateAuthority(X509Certificate2 ca, string chainPem)
    {
        _ca = ca;
        _chainPem = chainPem;
    }

    /// <summary>The CA certificate, as PEM.</summary>
    public string CertificatePem => _ca.ExportCertificatePem();

    /// <summary>Makes a self-signed CA whose subject is <c>CN=<paramref name="name"/></c>.</summary>
    public static TestCertificateAuthority Create(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return new TestCertificateAuthority(request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1)), "");
    }

    /// <summary>An intermediate CA under this one; what it issues carries it as a chain, for a client that trusts the root only.</summary>
    public TestCertificateAuthority CreateIntermediate(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var issued = request.Create(_ca, DateTimeOffset.UtcNow.AddMinutes(-5), _ca.NotAfter, RandomNumberGenerator.GetBytes(16));
        return new TestCertificateAuthority(issued.CopyWithPrivateKey(key), issued.ExportCertificatePem() + "\n" + _chainPem);
    }

    /// <summary>Writes the CA certificate to <paramref name="path"/> and returns the path.</summary>
    public string WriteCertificate(string path)
    {
        File.WriteAllText(path, CertificatePem);
        return path;
    }

    /// <summary>A server certificate for 127.0.0.1 and, unless <paramref name="localhost"/> is false, localhost.</summary>
    public IssuedCertificate IssueServer(bool localhost = true)
    {
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        if (localhost)
        {
            names.AddDnsName("localhost");
        }

        return Issue("CN=127.0.0.1", ServerAuthentication, names.Build());
    }

    /// <summary>A client certificate whose subject is <paramref name="subject"/>, for example <c>CN=deployer</c>.</summary>
    public IssuedCertificate IssueClient(string subject) => Issue(subject, ClientAuthentication, null);

    /// <summary>
    /// A client certificate whose validity has ended: its minute began when the CA's did, five minutes before the CA
    /// was made.
    /// </summary>
    public IssuedCertificate IssueExpiredClient(string subject) => Issue(subject, ClientAuthentication, null, expired: true);

    public void Dispose() => _ca.Dispose();

    private IssuedCertificate Issue(string subject, string usage, X509Extension? alternativeNames, bool expired = false)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(usage)], false));
        if (alternativeNames is not null)
        {
            request.CertificateExtensions.Add(alternativeNames);
        }

        var (notBefore, notAfter) = expired ? (_ca.NotBefore, _ca.NotBefore.AddMinutes(1)) : (DateTimeOffset.UtcNow.AddMinutes(-5), _ca.NotAfter);
        using var certificate = request.Create(_ca, notBefore, notAfter, RandomNumberGenerator.GetBytes(16));
        return new IssuedCertificate(certificate.ExportCertificatePem() + "\n" + _chainPem, key.ExportPkcs8PrivateKeyPem(), certificate.Thumbprint);
    }
}

/// <summary>
/// A certificate (followed by the intermediate CAs it chains through) and its private key as PEM, and the certificate's
/// thumbprint to recognise it when served.
/// </summary>
internal sealed record IssuedCertificate(string CertificatePem, string KeyPem, string Thumbprint)
{
    /// <summary>Writes the certificate and the key (mode 0600) to the two files.</summary>
    public void WriteTo(string certFile, string keyFile)
    {
        File.WriteAllText(certFile, CertificatePem);
        File.WriteAllText(keyFile, KeyPem);
        File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }
}
