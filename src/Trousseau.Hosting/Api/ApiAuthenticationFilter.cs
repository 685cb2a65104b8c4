using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Trousseau.Hosting.Api;

/// <summary>Admits a request to the API according to <see cref="TrousseauApiAuthOptions.Mode"/>.</summary>
internal sealed class ApiAuthenticationFilter(IOptions<TrousseauApiOptions> options, IServiceProvider services) : IEndpointFilter
{
    private const string BearerPrefix = "Bearer ";

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        switch (options.Value.Auth.Mode)
        {
            case TrousseauApiAuthMode.Kubernetes:
                return VerifyCallerAsync(context, next);
            case TrousseauApiAuthMode.None when !IsLoopback(http.Connection):
                return new(ApiProblems.Forbidden("Authentication mode 'none' accepts loopback connections only."));
            case TrousseauApiAuthMode.None:
                return next(context);
            default:
                if (BearerToken(http.Request) is not { } presented)
                {
                    http.Response.Headers.WWWAuthenticate = "Bearer";
                    return new(ApiProblems.Unauthenticated("Send the API token as 'Authorization: Bearer <token>'."));
                }

                if (!services.GetRequiredService<ApiToken>().Matches(presented))
                {
                    http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
                    return new(ApiProblems.Unauthenticated("The API token is not valid."));
                }

                return next(context);
        }
    }

    private async ValueTask<object?> VerifyCallerAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (BearerToken(http.Request) is not { Length: > 0 } jwt)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return ApiProblems.Unauthenticated("Send your Kubernetes service-account token as 'Authorization: Bearer <token>'.");
        }

        bool allowed;
        try
        {
            allowed = await services.GetRequiredService<ICallerVerifier>()
                .IsAllowedAsync(jwt, options.Value.Auth.KubernetesRole!, http.RequestAborted);
        }
        catch (DependencyUnavailableException e)
        {
            return ApiProblems.FromException(e);
        }

        if (!allowed)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer error=\"invalid_token\"";
            return ApiProblems.Unauthenticated("The service-account token was not accepted for this API.");
        }

        return await next(context);
    }

    /// <summary>The credential of an <c>Authorization: Bearer</c> header, or <see langword="null"/> without one.</summary>
    public static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase) ? header[BearerPrefix.Length..].Trim() : null;
    }

    /// <summary>Whether the connection came in on a loopback address, the only one mode <c>none</c> serves.</summary>
    public static bool IsLoopback(ConnectionInfo connection) =>
        connection.LocalIpAddress is not { } address || IPAddress.IsLoopback(address);
}
