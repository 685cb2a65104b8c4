using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>A CA, a server certificate for 127.0.0.1 and a client certificate it issued, as PEM files in a directory.</summary>
internal sealed record EtcdTlsFiles(string CaFile, string ServerCert, string ServerKey, string ClientCert, string ClientKey)
{
    /// <summary>Writes a fresh CA and the certificates it issues under <paramref name="directory"/>, file names starting with <paramref name="name"/>.</summary>
    public static EtcdTlsFiles Create(string directory, string name)
    {
        using var ca = TestCertificateAuthority.Create($"{name} test CA");
        var files = new EtcdTlsFiles(
            Path.Combine(directory, $"{name}-ca.pem"), Path.Combine(directory, $"{name}-server.pem"), Path.Combine(directory, $"{name}-server-key.pem"),
            Path.Combine(directory, $"{name}-client.pem"), Path.Combine(directory, $"{name}-client-key.pem"));
        ca.WriteCertificate(files.CaFile);

        // 127.0.0.1 only: a test reaches etcd as localhost, a name its certificate does not hold.
        ca.IssueServer(localhost: false).WriteTo(files.ServerCert, files.ServerKey);
        ca.IssueClient("CN=trousseau").WriteTo(files.ClientCert, files.ClientKey);
        return files;
    }
}
