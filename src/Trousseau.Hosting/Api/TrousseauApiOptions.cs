using Microsoft.Extensions.Options;

namespace Trousseau.Hosting;

/// <summary>Options of Trousseau's HTTP API (<c>Trousseau:Api</c>).</summary>
public sealed class TrousseauApiOptions
{
    /// <summary>How callers are authenticated.</summary>
    [ValidateObjectMembers]
    public TrousseauApiAuthOptions Auth { get; set; } = new();

    /// <summary>TLS: the server certificate, and the CA of client certificates for mutual TLS.</summary>
    public TrousseauApiTlsOptions Tls { get; set; } = new();

    /// <summary>
    /// Host names (without a port) that a request arriving on a loopback address may carry in its <c>Host</c> header,
    /// besides <c>localhost</c> and loopback IP addresses, for example a name in <c>/etc/hosts</c> or that of a
    /// reverse proxy on the same machine. Any other is refused (421), since a web page reaches a loopback server
    /// under a name of its own through DNS rebinding. Default none. Requests on other addresses are not checked.
    /// </summary>
    public IList<string> AllowedHosts { get; set; } = [];

    /// <summary>
    /// The largest request body accepted, in bytes (default 4 MiB: room for 1 MiB of secret data as escaped JSON).
    /// Larger bodies are refused with 413.
    /// </summary>
    [SettingRange(64 * 1024, 64L * 1024 * 1024, ErrorMessage = "Trousseau:Api:MaxRequestBodyBytes is {0}; it must be at least 65536 (64 KiB) and at most 67108864 (64 MiB).")]
    public long MaxRequestBodyBytes { get; set; } = 4L * 1024 * 1024;

    /// <summary>
    /// What each authenticated identity may do. Empty (the default): any authenticated identity may do everything.
    /// Otherwise a call is allowed only when some policy names its identity, its action and, for an action on a
    /// secret, the secret.
    /// </summary>
    public IList<TrousseauApiPolicy> Policies { get; } = [];
}
