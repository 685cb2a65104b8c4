using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The API's TLS material, read from the files of <see cref="TrousseauApiTlsOptions"/> and read again when they change.
/// Each new connection compares the files' identities, modification times, sizes and modes (through any symbolic link,
/// so that the swap of a Kubernetes secret volume's <c>..data</c> link counts) with those last seen
/// (<see cref="FileStamp"/>), a few system calls; when they differ, or while a file had been written less than 2 s
/// before it was last read (<see cref="FileLook"/>: a rewrite within one tick of the file system's clock can leave them
/// all the same), the files are read again. Files that cannot be used (written half-way, a key that does not match its
/// certificate yet) leave the previous material in use, with one warning until they change again. Material that new
/// files replaced is disposed once no connection uses it: each connection holds the material its handshake was given
/// until it closes, so that neither a handshake under way nor a connection served the old certificate sees it disposed.
/// </summary>
internal sealed partial class ApiTlsCertificate(string sectionPath, TrousseauApiTlsOptions tls, ILogger<ApiTlsCertificate> logger)
{
    private readonly Lock _gate = new();
    private ApiTlsMaterial? _material;
    private FileLook[] _looks = [];
    private bool _unusable;

    /// <summary>The material for a new connection, read again first when the files changed.</summary>
    /// <exception cref="ApiTlsFileException">The first read fails.</exception>
    public ApiTlsMaterial Current
    {
        get
        {
            var stamps = Stamps();
            if (Volatile.Read(ref _material) is not { } material || !AreCurrent(Volatile.Read(ref _looks), stamps))
            {
                material = Reload(stamps);
            }

            return material;
        }
    }

    /// <summary>
    /// Serves Kestrel's HTTPS endpoints with this certificate and, with <c>ClientCaFile</c>, requires client
    /// certificates issued under it. Without <c>CertFile</c> the endpoints are left as they are.
    /// </summary>
    public void Configure(HttpsConnectionAdapterOptions https)
    {
        if (string.IsNullOrWhiteSpace(tls.CertFile))
        {
            return;
        }

        // Kestrel takes a certificate up front, kept for as long as it serves the endpoint: copies of its own, so that
        // the material can go once replaced. Each handshake then takes the current material with its intermediates,
        // which a ServerCertificateSelector's certificate would go out without, and holds it until its connection closes.
        var material = Acquire();
        try
        {
            https.ServerCertificate = new X509Certificate2(material.Certificate);
            https.ServerCertificateChain = [.. material.Intermediates.Select(certificate => new X509Certificate2(certificate))];
        }
        finally
        {
            material.Release();
        }

        https.OnAuthenticate = (connection, ssl) =>
        {
            var served = Acquire();
            ssl.ServerCertificateContext = served.Context;
            connection.ConnectionClosed.Register(static used => ((ApiTlsMaterial)used!).Release(), served);
        };

        if (!string.IsNullOrWhiteSpace(tls.ClientCaFile))
        {
            // The client's certificate is checked against ClientCaFile alone, without revocation (no CRL is fetched),
            // with the material current now: the one the handshake's OnAuthenticate has just taken, or newer.
            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            https.CheckCertificateRevocation = false;
            https.ClientCertificateValidation = (certificate, chain, _) =>
            {
                var current = Acquire();
                try
                {
                    return current.TrustsClient(certificate, chain);
                }
                finally
                {
                    current.Release();
                }
            };
        }
    }

    /// <summary>A use of the current material (<see cref="ApiTlsMaterial.TryAcquire"/>), to be released by the caller.</summary>
    private ApiTlsMaterial Acquire()
    {
        while (true)
        {
            // A material replaced since it was read may be gone already: the newer one is current by then.
            var material = Current;
            if (material.TryAcquire())
            {
                return material;
            }
        }
    }

    private ApiTlsMaterial Reload(FileStamp[] stamps)
    {
        lock (_gate)
        {
            if (_material is { } latest && AreCurrent(_looks, stamps))
            {
                return latest;
            }

            // Files read again while they settle are logged about only when what they hold or their stamps changed.
            var looks = Looks();
            var sameStamps = _looks.Select(l => l.Stamp).SequenceEqual(looks.Select(l => l.Stamp));
            ApiTlsMaterial loaded;
            try
            {
                loaded = ApiTlsMaterial.Load(tls, sectionPath);
            }
            catch (ApiTlsFileException e) when (_material is { } previous)
            {
                Volatile.Write(ref _looks, looks);
                if (!(_unusable && sameStamps))
                {
                    LogUnusable(logger, e.Message, previous.Certificate.Subject, previous.Certificate.Thumbprint);
                }

                _unusable = true;
                return previous;
            }

            var replaced = _material;
            var unchanged = !_unusable && sameStamps && replaced?.Certificate.Thumbprint == loaded.Certificate.Thumbprint;
            Volatile.Write(ref _material, loaded);
            Volatile.Write(ref _looks, looks);
            _unusable = false;

            // Disposed once the connections that were given it have closed.
            replaced?.Dispose();
            if (unchanged)
            {
                return loaded;
            }

            var certificate = loaded.Certificate;
            var notAfter = certificate.NotAfter.ToUniversalTime();
            var certFile = Path.GetFullPath(tls.CertFile!);
            LogLoaded(logger, certificate.Subject, certificate.Thumbprint, notAfter, certFile);
            return loaded;
        }
    }

    /// <summary>Whether each file is still what the look at it read.</summary>
    private static bool AreCurrent(FileLook[] looks, FileStamp[] stamps)
    {
        if (looks.Length != stamps.Length)
        {
            return false;
        }

        for (var i = 0; i < looks.Length; i++)
        {
            if (!looks[i].IsCurrent(stamps[i]))
            {
                return false;
            }
        }

        return true;
    }

    private string[] Files() => string.IsNullOrWhiteSpace(tls.ClientCaFile) ? [tls.CertFile!, tls.KeyFile!] : [tls.CertFile!, tls.KeyFile!, tls.ClientCaFile];

    private FileStamp[] Stamps() => Array.ConvertAll(Files(), FileStamp.Of);

    private FileLook[] Looks() => Array.ConvertAll(Files(), FileLook.Take);

    [LoggerMessage(EventId = 5200, Level = LogLevel.Information, Message = "API TLS certificate {Subject} (thumbprint {Thumbprint}, valid until {NotAfter:u}) read from {CertFile}")]
    private static partial void LogLoaded(ILogger logger, string subject, string thumbprint, DateTime notAfter, string certFile);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "The API TLS files changed but cannot be used: {Reason} Still serving {Subject} (thumbprint {Thumbprint}) until they change again.")]
    private static partial void LogUnusable(ILogger logger, string reason, string subject, string thumbprint);
}
