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
            case TrousseauApiAuthMode.None when !IsLoopback(http.Connection.LocalIpAddress):
                return new(ApiProblems.Forbidden("Authentication mode 'none' accepts loopback connections only."));
            case TrousseauApiAuthMode.None:
                return next(context);
            default:
                var header = http.Request.Headers.Authorization.ToString();
                if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
                {
                    http.Response.Headers.WWWAuthenticate = "Bearer";
                    return new(ApiProblems.Unauthenticated("Send the API token as 'Authorization: Bearer <token>'."));
                }

                if (!services.GetRequiredService<ApiToken>().Matches(header[BearerPrefix.Length..].Trim()))
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
        var header = http.Request.Headers.Authorization.ToString();
        if (!header.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase) || header.Length == BearerPrefix.Length)
        {
            http.Response.Headers.WWWAuthenticate = "Bearer";
            return ApiProblems.Unauthenticated("Send your Kubernetes service-account token as 'Authorization: Bearer <token>'.");
        }

        bool allowed;
        try
        {
            allowed = await services.GetRequiredService<ICallerVerifier>()
                .IsAllowedAsync(header[BearerPrefix.Length..].Trim(), options.Value.Auth.KubernetesRole!, http.RequestAborted);
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

    private static bool IsLoopback(IPAddress? address) => address is null || IPAddress.IsLoopback(address);
}
