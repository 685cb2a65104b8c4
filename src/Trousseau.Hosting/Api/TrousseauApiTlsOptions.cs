namespace Trousseau.Hosting;

/// <summary>
/// TLS of the HTTP API (<c>Trousseau:Api:Tls</c>): the server certificate and, for mutual TLS, the CA that client
/// certificates must chain to. The files are PEM. They are checked at start, and looked at again on each new
/// connection: when they change (a renewal by cert-manager, the swap of a Kubernetes secret volume) the new
/// certificate is served without a restart, and when the new files cannot be used the previous ones stay in use.
/// </summary>
public sealed class TrousseauApiTlsOptions
{
    /// <summary>
    /// The server certificate, PEM, optionally followed by the intermediate CA certificates that are sent with it.
    /// Requires <see cref="KeyFile"/>.
    /// </summary>
    public string? CertFile { get; set; }

    /// <summary>The unencrypted private key of <see cref="CertFile"/>, PEM (PKCS#8, PKCS#1 or SEC1).</summary>
    public string? KeyFile { get; set; }

    /// <summary>
    /// The CA certificates, PEM, that client certificates must chain to. When set, every connection must present a
    /// client certificate issued under one of them (mutual TLS), or its handshake is refused; the certificate is then
    /// the connection's <c>HttpContext.Connection.ClientCertificate</c>. Revocation is not checked.
    /// </summary>
    public string? ClientCaFile { get; set; }
}
