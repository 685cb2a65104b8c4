using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The API's TLS material, read from the files of <see cref="TrousseauApiTlsOptions"/> and read again when they change.
/// Each new connection compares the files' modification times and sizes (through any symbolic link, so that the swap
/// of a Kubernetes secret volume's <c>..data</c> link counts) with those last seen, a few system calls; when they
/// differ the files are read again. Files that cannot be used (written half-way, a key that does not match its
/// certificate yet) leave the previous material in use, with one warning until they change again.
/// </summary>
internal sealed partial class ApiTlsCertificate(string sectionPath, TrousseauApiTlsOptions tls, ILogger<ApiTlsCertificate> logger)
{
    private readonly Lock _gate = new();
    private ApiTlsMaterial? _material;
    private FileStamp[] _stamps = [];

    /// <summary>The material for a new connection, read again first when the files changed.</summary>
    /// <exception cref="ApiTlsFileException">The first read fails.</exception>
    public ApiTlsMaterial Current
    {
        get
        {
            var stamps = Stamp();
            if (Volatile.Read(ref _material) is not { } material || !stamps.AsSpan().SequenceEqual(Volatile.Read(ref _stamps)))
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

        // Kestrel takes a certificate up front; each handshake then takes the current one with its intermediates,
        // which a ServerCertificateSelector's certificate would go out without.
        var material = Current;
        https.ServerCertificate = material.Certificate;
        https.ServerCertificateChain = material.Intermediates;
        https.OnAuthenticate = (_, ssl) => ssl.ServerCertificateContext = Current.Context;

        if (!string.IsNullOrWhiteSpace(tls.ClientCaFile))
        {
            // The client's certificate is checked against ClientCaFile alone, without revocation (no CRL is fetched),
            // with the material the handshake's OnAuthenticate has just made current.
            https.ClientCertificateMode = ClientCertificateMode.RequireCertificate;
            https.CheckCertificateRevocation = false;
            https.ClientCertificateValidation = (certificate, chain, _) => Volatile.Read(ref _material)!.TrustsClient(certificate, chain);
        }
    }

    private ApiTlsMaterial Reload(FileStamp[] stamps)
    {
        lock (_gate)
        {
            if (_material is { } latest && stamps.AsSpan().SequenceEqual(_stamps))
            {
                return latest;
            }

            ApiTlsMaterial loaded;
            try
            {
                loaded = ApiTlsMaterial.Load(tls, sectionPath);
            }
            catch (ApiTlsFileException e) when (_material is { } previous)
            {
                Volatile.Write(ref _stamps, stamps);
                LogUnusable(logger, e.Message, previous.Certificate.Subject, previous.Certificate.Thumbprint);
                return previous;
            }

            Volatile.Write(ref _material, loaded);
            Volatile.Write(ref _stamps, stamps);
            var certificate = loaded.Certificate;
            var notAfter = certificate.NotAfter.ToUniversalTime();
            var certFile = Path.GetFullPath(tls.CertFile!);
            LogLoaded(logger, certificate.Subject, certificate.Thumbprint, notAfter, certFile);
            return loaded;
        }
    }

    private FileStamp[] Stamp() => string.IsNullOrWhiteSpace(tls.ClientCaFile)
        ? [FileStamp.Of(tls.CertFile!), FileStamp.Of(tls.KeyFile!)]
        : [FileStamp.Of(tls.CertFile!), FileStamp.Of(tls.KeyFile!), FileStamp.Of(tls.ClientCaFile)];

    [LoggerMessage(EventId = 5200, Level = LogLevel.Information, Message = "API TLS certificate {Subject} (thumbprint {Thumbprint}, valid until {NotAfter:u}) read from {CertFile}")]
    private static partial void LogLoaded(ILogger logger, string subject, string thumbprint, DateTime notAfter, string certFile);

    [LoggerMessage(EventId = 5201, Level = LogLevel.Warning, Message = "The API TLS files changed but cannot be used: {Reason} Still serving {Subject} (thumbprint {Thumbprint}) until they change again.")]
    private static partial void LogUnusable(ILogger logger, string reason, string subject, string thumbprint);

    /// <summary>A file's modification time and size as last seen; the default when it could not be opened.</summary>
    private readonly record struct FileStamp(DateTime LastWriteUtc, long Length)
    {
        public static FileStamp Of(string path)
        {
            try
            {
                using var handle = File.OpenHandle(path);
                return new FileStamp(File.GetLastWriteTimeUtc(handle), RandomAccess.GetLength(handle));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return default;
            }
        }
    }
}
