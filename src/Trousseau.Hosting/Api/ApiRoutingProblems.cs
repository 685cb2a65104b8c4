using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Answers with problem details the errors routing gives by itself below <c>/v1</c>, where no endpoint of the API
/// runs: 404 <c>not-found</c> for a path no route serves, and 405 <c>invalid-input</c> for a method the route does
/// not take (its <c>Allow</c> header kept, and named in the detail). A client then parses every error of the API the
/// same way. Other paths, and an answer an endpoint or another middleware wrote, are left as they are.
/// </summary>
internal static class ApiRoutingProblems
{
    private static readonly PathString ApiPath = new("/v1");

    // The longest method a 405's detail repeats: a method is any token, and the request line may be kilobytes long.
    private const int MaxShownMethodLength = 20;

    public static async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        await next(context);

        var response = context.Response;
        if (response.HasStarted || !context.Request.Path.StartsWithSegments(ApiPath))
        {
            return;
        }

        var answer = (response.StatusCode, context.GetEndpoint()) switch
        {
            (StatusCodes.Status404NotFound, null) => ApiProblems.NotFound("No route of the API serves this path; the reference lists them, each under /v1."),
            (StatusCodes.Status405MethodNotAllowed, not RouteEndpoint) => ApiProblems.MethodNotAllowed(
                $"This route does not take the method {Excerpt.Escaped(context.Request.Method, MaxShownMethodLength)}; it takes "
                + $"{string.Join(", ", ApiRequests.ListValues(response.Headers.Allow).Order(StringComparer.Ordinal))} (the Allow header lists them)."),
            _ => null,
        };

        if (answer is not null)
        {
            await answer.ExecuteAsync(context);
        }
    }
}
