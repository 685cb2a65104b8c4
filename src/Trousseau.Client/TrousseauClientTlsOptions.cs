namespace Trousseau.Remote;

/// <summary>
/// How a client checks trousseaud's certificate and proves who it is over TLS; see
/// <see cref="TrousseauHttpHandler.Create"/>. The files are PEM and are read when the handler is made.
/// </summary>
public sealed class TrousseauClientTlsOptions
{
    /// <summary>
    /// The CA certificates that trousseaud's certificate must chain to, instead of the system's; <see langword="null"/>
    /// for the system's.
    /// </summary>
    public string? CaFile { get; set; }

    /// <summary>
    /// A client certificate for mutual TLS, optionally followed by its intermediate CA certificates; requires
    /// <see cref="KeyFile"/>.
    /// </summary>
    public string? CertFile { get; set; }

    /// <summary>The unencrypted private key of <see cref="CertFile"/> (PKCS#8, PKCS#1 or SEC1).</summary>
    public string? KeyFile { get; set; }
}
