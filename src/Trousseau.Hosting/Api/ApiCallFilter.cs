using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Starts the request's <see cref="ApiCall"/>: its action from the route, and the secret name when the path holds one
/// (<c>/v1/secrets/{name}</c>); a create names its secret in the body, and its handler records it.
/// </summary>
internal sealed class ApiCallFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var call = ApiCall.Of(context.HttpContext);
        if (context.HttpContext.Request.RouteValues.TryGetValue("name", out var name) && name is string secret)
        {
            call.SecretName = secret;
        }

        return next(context);
    }
}
