using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>Answers the API's requests that fail with a Trousseau exception with the matching problem details.</summary>
internal sealed class ApiExceptionFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception e) when (ApiProblems.IsMapped(e))
        {
            if (e is DependencyUnavailableException)
            {
                context.HttpContext.Response.Headers.RetryAfter = "1";
            }

            return ApiProblems.FromException(e);
        }
    }
}
