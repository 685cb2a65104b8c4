using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Trousseau.Hosting.Api;

/// <summary>
/// What the files of <see cref="TrousseauApiTlsOptions"/> hold, read whole: the server certificate with its key and
/// intermediates, ready for a handshake, and the CAs of client certificates. <see cref="Load"/> fails with a message
/// that names the setting and the file, never their contents. The certificates are disposed once the one who loaded
/// the material has disposed it and each use taken since (<see cref="TryAcquire"/>) has been released: a handshake
/// under way with it, a connection that was served it, keeps it open.
/// </summary>
internal sealed class ApiTlsMaterial : IDisposable
{
    private const string ServerAuthentication = "1.3.6.1.5.5.7.3.1";
    private const string ClientAuthentication = "1.3.6.1.5.5.7.3.2";

    private readonly X509Certificate2Collection? _clientAuthorities;

    // The uses not released yet, the loader's among them until it disposes the material; none left, the certificates are disposed.
    private int _uses = 1;
    private int _disposed;

    private ApiTlsMaterial(X509Certificate2 certificate, X509Certificate2Collection intermediates, X509Certificate2Collection? clientAuthorities)
    {
        Certificate = certificate;
        Intermediates = intermediates;
        _clientAuthorities = clientAuthorities;
        Context = SslStreamCertificateContext.Create(certificate, intermediates, offline: true);
    }

    /// <summary>The server certificate, with its private key.</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The CA certificates that followed the server certificate in its file.</summary>
    public X509Certificate2Collection Intermediates { get; }

    /// <summary>The certificate and its intermediates, as a handshake sends them.</summary>
    public SslStreamCertificateContext Context { get; }

    /// <summary>Reads the files that <paramref name="tls"/> names; <c>CertFile</c> and <c>KeyFile</c> must be set.</summary>
    /// <param name="tls">The TLS options.</param>
    /// <param name="sectionPath">Their configuration section, for example <c>Trousseau:Api:Tls</c>, to name keys in messages.</param>
    /// <exception cref="ApiTlsFileException">A file is missing, unreadable, or does not hold what it should.</exception>
    public static ApiTlsMaterial Load(TrousseauApiTlsOptions tls, string sectionPath)
    {
        var certKey = $"{sectionPath}:{nameof(TrousseauApiTlsOptions.CertFile)}";
        var keyKey = $"{sectionPath}:{nameof(TrousseauApiTlsOptions.KeyFile)}";
        var caKey = $"{sectionPath}:{nameof(TrousseauApiTlsOptions.ClientCaFile)}";
        X509Certificate2 certificate;
        X509Certificate2Collection intermediates;
        X509Certificate2Collection? clientAuthorities;
        try
        {
            (certificate, intermediates) = PemFiles.ReadCertificateWithKey(tls.CertFile!, tls.KeyFile!, certKey, keyKey);
            clientAuthorities = string.IsNullOrWhiteSpace(tls.ClientCaFile) ? null : PemFiles.ReadCertificates(tls.ClientCaFile, caKey);
        }
        catch (InvalidDataException e)
        {
            throw new ApiTlsFileException(e.Message);
        }

        var certFile = Path.GetFullPath(tls.CertFile!);
        if (certificate.Extensions.OfType<X509EnhancedKeyUsageExtension>().FirstOrDefault() is { } usage
            && !usage.EnhancedKeyUsages.Cast<Oid>().Any(oid => oid.Value == ServerAuthentication))
        {
            var subject = certificate.Subject;
            PemFiles.Dispose([certificate, .. intermediates]);
            throw new ApiTlsFileException($"{certKey} names {certFile}, whose certificate ({subject}) is not for servers: its extended key usage lacks serverAuth.");
        }

        return new ApiTlsMaterial(certificate, intermediates, clientAuthorities);
    }

    /// <summary>
    /// Whether <paramref name="clientCertificate"/> chains to a CA of <c>ClientCaFile</c> (with the intermediates the
    /// client sent along in <paramref name="presented"/>), is within its validity and is for clients. Revocation is not
    /// checked.
    /// </summary>
    public bool TrustsClient(X509Certificate2 clientCertificate, X509Chain? presented)
    {
        if (_clientAuthorities is null)
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(_clientAuthorities);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.DisableCertificateDownloads = true;
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid(ClientAuthentication));
        if (presented is not null)
        {
            chain.ChainPolicy.ExtraStore.AddRange(presented.ChainPolicy.ExtraStore);
        }

        return chain.Build(clientCertificate);
    }

    /// <summary>
    /// Takes a use of the material, to be given back with <see cref="Release"/>; false once its certificates have been
    /// disposed (the loader disposed it and every use was released), when the caller must take the newer material.
    /// </summary>
    public bool TryAcquire()
    {
        var uses = Volatile.Read(ref _uses);
        while (uses > 0)
        {
            var seen = Interlocked.CompareExchange(ref _uses, uses + 1, uses);
            if (seen == uses)
            {
                return true;
            }

            uses = seen;
        }

        return false;
    }

    /// <summary>Gives back a use taken with <see cref="TryAcquire"/>; the last one disposes the certificates.</summary>
    public void Release()
    {
        if (Interlocked.Decrement(ref _uses) == 0)
        {
            Certificate.Dispose();
            foreach (var certificate in Intermediates.Concat(_clientAuthorities ?? []))
            {
                certificate.Dispose();
            }
        }
    }

    /// <summary>Gives back the loader's use, once however often it is called; the certificates go with the last use.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            Release();
        }
    }
}

/// <summary>A file of the API's TLS settings cannot be used; the message names the setting and the file.</summary>
internal sealed class ApiTlsFileException(string message) : Exception(message);
