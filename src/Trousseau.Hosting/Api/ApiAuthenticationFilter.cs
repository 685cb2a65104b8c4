using System.Globalization;
using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Admits a request to the API according to <see cref="TrousseauApiAuthOptions.Mode"/> and records who is calling,
/// in <see cref="ApiCall.Identity"/> and as <see cref="HttpContext.User"/> (named after the identity, its
/// authentication type saying how it was proven; also given to a handler's <see cref="ClaimsPrincipal"/> parameter). Mode token: the API token is <see cref="Admin"/>. Mode kubernetes:
/// the service-account JWT, checked through Vault by <see cref="CallerCheck"/>, is
/// <c>system:serviceaccount:NS:NAME</c>. In both, a request without a bearer token is the subject of the client
/// certificate its HTTPS connection accepted, if any (a certificate with an empty subject is refused). Mode none (loopback only): every caller is
/// <see cref="Anonymous"/>. A malformed <c>Authorization</c> header is refused in every mode.
/// </summary>
/// <param name="options">The API options.</param>
/// <param name="services">Where the API token and the caller check are found, each only in its mode.</param>
/// <param name="sectionPath">The API's section, for example <c>Trousseau:Api</c>, for messages.</param>
internal sealed class ApiAuthenticationFilter(IOptions<TrousseauApiOptions> options, IServiceProvider services, string sectionPath) : IEndpointFilter
{
    /// <summary>The identity of the API token.</summary>
    public const string Admin = "admin";

    /// <summary>The identity of every caller in mode <c>none</c>.</summary>
    public const string Anonymous = "anonymous";

    private const string BearerScheme = "Bearer";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var (identity, proof, refusal) = await AuthenticateAsync(http);
        if (refusal is not null)
        {
            return refusal;
        }

        ApiCall.Of(http).Identity = identity;
        http.User = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, identity!)], proof));

        // A handler's ClaimsPrincipal parameter was bound to HttpContext.User before the filters ran.
        for (var i = 0; i < context.Arguments.Count; i++)
        {
            if (context.Arguments[i] is ClaimsPrincipal)
            {
                context.Arguments[i] = http.User;
            }
        }

        return await next(context);
    }

    /// <summary>
    /// Reads <c>Authorization: Bearer &lt;token&gt;</c>: false when the header is malformed (another scheme, no token,
    /// a token with spaces, the header twice); true with a <see langword="null"/> token when there is no header.
    /// </summary>
    public static bool TryReadBearer(HttpRequest request, out string? token)
    {
        token = null;
        var values = request.Headers.Authorization;
        if (values.Count == 0)
        {
            return true;
        }

        var header = values.Count == 1 ? values[0] ?? "" : "";
        var space = header.IndexOf(' ', StringComparison.Ordinal);
        if (space != BearerScheme.Length || !header.StartsWith(BearerScheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var credential = header[(space + 1)..].TrimStart(' ');
        if (credential.Length == 0 || credential.Any(c => c is <= ' ' or > '~'))
        {
            return false;
        }

        token = credential;
        return true;
    }

    /// <summary>Whether the connection came in on a loopback address, the only one mode <c>none</c> serves.</summary>
    public static bool IsLoopback(ConnectionInfo connection) =>
        connection.LocalIpAddress is not { } address || IPAddress.IsLoopback(address);

    private async ValueTask<Authentication> AuthenticateAsync(HttpContext http)
    {
        var mode = options.Value.Auth.Mode;
        if (mode == TrousseauApiAuthMode.None && !IsLoopback(http.Connection))
        {
            return Refuse(ApiProblems.Forbidden("Authentication mode 'none' accepts loopback connections only."));
        }

        if (!TryReadBearer(http.Request, out var bearer))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_request\"";
            return Refuse(ApiProblems.Unauthenticated("The Authorization header is malformed: send 'Authorization: Bearer <token>', with a token of visible characters and no spaces, or no Authorization header."));
        }

        if (mode == TrousseauApiAuthMode.None)
        {
            return new(Anonymous, "none", null);
        }

        if (bearer is null)
        {
            if (http.Connection.ClientCertificate is { } certificate)
            {
                // A certificate named only by its alternative names would make every such client one empty identity.
                return certificate.Subject.Length > 0
                    ? new(certificate.Subject, "certificate", null)
                    : Refuse(ApiProblems.Unauthenticated("The client certificate's subject is empty, so it names no identity: send a bearer token, or use a certificate whose subject names the client."));
            }

            http.Response.Headers.WWWAuthenticate = BearerScheme;
            return Refuse(ApiProblems.Unauthenticated(mode == TrousseauApiAuthMode.Kubernetes
                ? "Send your Kubernetes service-account token as 'Authorization: Bearer <token>'."
                : "Send the API token as 'Authorization: Bearer <token>'."));
        }

        if (mode == TrousseauApiAuthMode.Kubernetes)
        {
            return await CheckCallerAsync(http, bearer);
        }

        if (!services.GetRequiredService<ApiToken>().Matches(bearer))
        {
            http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            return Refuse(ApiProblems.Unauthenticated("The API token is not valid."));
        }

        return new(Admin, "token", null);
    }

    private async ValueTask<Authentication> CheckCallerAsync(HttpContext http, string jwt)
    {
        CallerCheckResult checkedCaller;
        try
        {
            checkedCaller = await services.GetRequiredService<CallerCheck>().CheckAsync(jwt, http.RequestAborted);
        }
        catch (DependencyUnavailableException e)
        {
            return Refuse(ApiProblems.ForException(e, http.Response));
        }

        if (checkedCaller.Identity is { } identity)
        {
            return new(identity, "kubernetes", null);
        }

        if (checkedCaller.RetryAfter is { } wait)
        {
            var limit = options.Value.Auth.MaxLoginsPerSecond.ToString(CultureInfo.InvariantCulture);
            return Refuse(ApiProblems.Unavailable(
                $"trousseaud checks at most {limit} new service-account tokens per second with Vault ({sectionPath}:Auth:MaxLoginsPerSecond), and that many are being checked; retry later.",
                wait,
                http.Response));
        }

        http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
        return Refuse(ApiProblems.Unauthenticated("The service-account token was not accepted for this API."));
    }

    private static Authentication Refuse(IResult refusal) => new(null, null, refusal);

    /// <summary>Who is calling and how it was proven, or the answer refusing the request.</summary>
    private readonly record struct Authentication(string? Identity, string? Proof, IResult? Refusal);
}
