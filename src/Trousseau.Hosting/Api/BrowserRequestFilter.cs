using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Refuses what a web page in a browser could make the API do; the API serves programs, never pages. In every
/// authentication mode:
/// <list type="bullet">
/// <item>on a loopback address, a <c>Host</c> that is neither a loopback name nor one of
/// <see cref="TrousseauApiOptions.AllowedHosts"/> (421): what a page sends after DNS rebinding made its own name
/// resolve to 127.0.0.1;</item>
/// <item>a request from another site (403): an <c>Origin</c> other than the API's own scheme, host and port, or
/// <c>Sec-Fetch-Site: cross-site</c> or <c>same-site</c>.</item>
/// </list>
/// Both run before authentication, so that such a request gets no further: no token is compared for it and, in mode
/// <c>kubernetes</c>, Vault is not asked about it. <see cref="JsonContentTypeFilter"/>, after authentication, refuses
/// the writes a page can send without a CORS preflight.
/// </summary>
internal sealed class BrowserRequestFilter(IOptions<TrousseauApiOptions> options) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var request = http.Request;
        if (ApiAuthenticationFilter.IsLoopback(http.Connection) && !IsAllowedHost(request.Host))
        {
            return new(ApiProblems.HostNotAllowed(
                $"The Host '{Printable(request.Host.Value)}' is not a name of this server: on a loopback address the API answers localhost, a loopback IP address or a name of Trousseau:Api:AllowedHosts."));
        }

        if (CrossSiteReason(request) is { } reason)
        {
            return new(ApiProblems.CrossSite($"The API does not serve requests from other sites ({reason}); call it from a program, not a web page."));
        }

        return next(context);
    }

    private bool IsAllowedHost(HostString host)
    {
        // An IPv6 address comes in brackets ([::1]); a configured one may be written without.
        var name = host.Host.Trim('[', ']');
        if (name.Length == 0)
        {
            return false;
        }

        return name.Equals("localhost", StringComparison.OrdinalIgnoreCase)
            || (IPAddress.TryParse(name, out var address) && IPAddress.IsLoopback(address))
            || options.Value.AllowedHosts.Any(allowed => allowed.Trim('[', ']').Equals(name, StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Why the request comes from another site, or <see langword="null"/> when nothing says so.</summary>
    private static string? CrossSiteReason(HttpRequest request)
    {
        var fetchSite = request.Headers["Sec-Fetch-Site"].ToString();
        if (fetchSite.Equals("cross-site", StringComparison.OrdinalIgnoreCase) || fetchSite.Equals("same-site", StringComparison.OrdinalIgnoreCase))
        {
            return $"Sec-Fetch-Site: {fetchSite}";
        }

        var origin = request.Headers.Origin.ToString();
        if (origin.Length == 0 || IsSameOrigin(origin, request))
        {
            return null;
        }

        return $"Origin: {Printable(origin)}";
    }

    private static bool IsSameOrigin(string origin, HttpRequest request) =>
        Uri.TryCreate(origin, UriKind.Absolute, out var theirs)
        && Uri.TryCreate($"{request.Scheme}://{request.Host.Value}", UriKind.Absolute, out var ours)
        && theirs.AbsolutePath == "/"
        && Uri.Compare(theirs, ours, UriComponents.SchemeAndServer, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0;

    /// <summary>A header value as an error message may quote it: short and printable ASCII.</summary>
    private static string Printable(string? value) =>
        value is { Length: > 0 } && Excerpt.IsPrintable(value, 100) ? value : "(unprintable)";
}
