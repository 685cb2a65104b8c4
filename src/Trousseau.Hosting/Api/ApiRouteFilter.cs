using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Answers 404 a request that an endpoint matching more than its routes (the <c>POST</c> below <c>/v1/secrets/</c>)
/// does not serve as a route (<c>POST /v1/secrets/db/frobnicate</c>). It runs right after authentication: an unknown
/// route is 404 whatever the caller's rights, its content type, body or query, while a caller without credentials
/// still gets 401.
/// </summary>
internal sealed class ApiRouteFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        return http.GetEndpoint()?.Metadata.GetMetadata<ApiRouteMatch>() is { } route && !route.Matches(http.Request)
            ? new(ApiProblems.NotFound(route.NotFoundDetail))
            : next(context);
    }
}

/// <summary>
/// Which requests an endpoint that matches more than its routes serves as a route, and what
/// <see cref="ApiRouteFilter"/> answers the others with 404.
/// </summary>
/// <param name="Matches">Whether the request is one of the endpoint's routes.</param>
/// <param name="NotFoundDetail">The 404 problem's detail for a request that is not.</param>
internal sealed record ApiRouteMatch(Func<HttpRequest, bool> Matches, string NotFoundDetail);
