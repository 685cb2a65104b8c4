using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Refuses with 400 a query parameter the route does not take, or one it takes given more than once: a misspelt
/// filter (<c>GET /v1/secrets?prefx=db/</c>) would otherwise list every secret, a misspelt option
/// (<c>?verison=3</c>) would be ignored without a word, and a repeated one leave the server to guess. A route takes
/// the parameters its <see cref="ApiQueryParameters"/> names, and none without one.
/// </summary>
internal sealed class QueryParameterFilter : IEndpointFilter
{
    // The longest parameter name a problem repeats; a longer one is cut.
    private const int MaxShownNameLength = 64;

    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var taken = http.GetEndpoint()?.Metadata.GetMetadata<ApiQueryParameters>()?.Names ?? [];
        foreach (var (key, values) in http.Request.Query)
        {
            if (!taken.Contains(key, StringComparer.Ordinal))
            {
                return new(ApiProblems.Invalid($"'{Excerpt.Of(key, MaxShownNameLength)}' is not a parameter of {RouteOf(http)}; {Describe(taken)}."));
            }

            if (values.Count > 1)
            {
                return new(ApiProblems.Invalid($"'{key}' is given {values.Count} times; give it once."));
            }
        }

        return next(context);
    }

    private static string Describe(IReadOnlyList<string> taken)
    {
        if (taken.Count == 0)
        {
            return "it takes no query parameters";
        }

        var allButLast = string.Join(", ", taken.SkipLast(1));
        return $"it takes {(allButLast.Length == 0 ? taken[^1] : $"{allButLast} and {taken[^1]}")} (lower case, each at most once)";
    }

    /// <summary>
    /// The route as the reference names it, <c>PUT /v1/secrets/{name}</c>: the catch-all parameters that let a name
    /// hold '/' are written <c>{name}</c>, and the POST below a secret is named by its last segment
    /// (<c>/generate</c>, <c>/regenerate</c>).
    /// </summary>
    private static string RouteOf(HttpContext context)
    {
        var request = context.Request;
        var pattern = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? request.Path.Value ?? "";
        var route = pattern.Replace("{**name}", "{name}", StringComparison.Ordinal);
        if (route.EndsWith("{**path}", StringComparison.Ordinal))
        {
            var path = request.Path.Value ?? "";
            route = string.Concat(route.AsSpan(0, route.Length - "{**path}".Length), "{name}/", Excerpt.Of(path[(path.LastIndexOf('/') + 1)..], MaxShownNameLength));
        }

        return $"{request.Method} {route}";
    }
}

/// <summary>The query parameters a route takes (the listing's <c>prefix</c>, <c>limit</c> and <c>continue</c>); a route without it takes none.</summary>
/// <param name="Names">The parameter names, spelt as the client must spell them.</param>
internal sealed record ApiQueryParameters(IReadOnlyList<string> Names);
