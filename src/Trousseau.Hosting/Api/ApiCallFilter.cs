using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Starts the request's <see cref="ApiCall"/>: its action from the route, and the secret name when the path holds one
/// (<c>/v1/secrets/{name}</c>, <c>/v1/secrets/{name}/generate</c>, <c>/v1/secrets/{name}/regenerate</c>), so that
/// the policy check and the audit trail name it even when the call is refused before its handler runs; a create names
/// its secret in the body, and its handler records it.
/// </summary>
internal sealed class ApiCallFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var call = ApiCall.Of(context.HttpContext);
        var route = context.HttpContext.Request.RouteValues;
        if (route.TryGetValue("name", out var name) && name is string secret)
        {
            call.SecretName = secret;
        }
        else if (call.Action == ApiAction.Generate && route.TryGetValue("path", out var path) && path is string posted)
        {
            call.SecretName = SecretEndpoints.PostedSecretName(posted);
        }

        return next(context);
    }
}
