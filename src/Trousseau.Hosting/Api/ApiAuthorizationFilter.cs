using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Refuses, with 403, a call that <c>Api:Policies</c> does not allow its identity: the route's action on the secret
/// the route names (a generate's and a regenerate's included, the path before <c>/generate</c> or <c>/regenerate</c>).
/// A create, whose secret is in its body, is checked here for the action alone, and again by its handler once the name
/// is read, before anything is written; a listing is filtered item by item by its handler.
/// </summary>
internal sealed class ApiAuthorizationFilter(ApiPolicies policies) : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        policies.Deny(context.HttpContext) is { } denied ? new(denied) : next(context);
}
