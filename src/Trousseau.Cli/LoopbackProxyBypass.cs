using System.Net;

namespace Trousseau.Cli;

/// <summary>
/// The proxy of the environment (<c>HTTPS_PROXY</c>, <c>HTTP_PROXY</c>, <c>ALL_PROXY</c>, <c>NO_PROXY</c>), except for
/// a server on this machine (localhost, 127.0.0.0/8, [::1]), which is always called directly, as Go's clients such as
/// kubectl do: a request to it carries the data directory's token, which no proxy may see.
/// </summary>
internal sealed class LoopbackProxyBypass(IWebProxy environment) : IWebProxy
{
    public ICredentials? Credentials
    {
        get => environment.Credentials;
        set => environment.Credentials = value;
    }

    public Uri? GetProxy(Uri destination) => destination.IsLoopback ? null : environment.GetProxy(destination);

    public bool IsBypassed(Uri host) => host.IsLoopback || environment.IsBypassed(host);
}
