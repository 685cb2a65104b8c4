namespace Trousseau.Remote;

/// <summary>
/// Which trousseaud a <see cref="TrousseauClient"/> registered with <c>AddTrousseauClient</c> calls, with what token and
/// over what TLS; bound from the configuration section given to it (keys <c>BaseAddress</c>, <c>Token</c>,
/// <c>TokenFile</c>, <c>Tls:CaFile</c>, <c>Tls:CertFile</c>, <c>Tls:KeyFile</c>, <c>AllowInsecureHttp</c>) or set in
/// code, and checked when the host starts.
/// </summary>
public sealed class TrousseauClientConnectionOptions
{
    /// <summary>The trousseaud URL, <c>http://</c> or <c>https://</c>, for example <c>https://trousseau.example.com:8787</c>. Required.</summary>
    public Uri? BaseAddress { get; set; }

    /// <summary>The API bearer token; prefer <see cref="TokenFile"/>. Neither: the client sends no token.</summary>
    public string? Token { get; set; }

    /// <summary>
    /// A file holding the API bearer token, as trousseaud writes it to <c>api.token</c> in its data directory (at most
    /// 4 KiB, trimmed). Read at start and again before a call once it has changed, so that a token rotated in the file
    /// (or in the Kubernetes Secret it is mounted from) is sent from then on; a changed file that cannot be read, or is
    /// empty, leaves the token read before in use until it changes again.
    /// </summary>
    public string? TokenFile { get; set; }

    /// <summary>The CA and client certificate files of the connection (see <see cref="TrousseauHttpHandler.Create"/>).</summary>
    public TrousseauClientTlsOptions Tls { get; set; } = new();

    /// <summary>
    /// Whether the token may go over plain <c>http://</c> to a server that is not on this machine, as
    /// <see cref="TrousseauClientOptions.AllowInsecureHttp"/>; <see langword="false"/> by default, and the host does not
    /// start with such an address and a token.
    /// </summary>
    public bool AllowInsecureHttp { get; set; }
}
