using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Answers the API's requests that fail with a Trousseau exception with the matching problem details; anything else
/// goes on to <see cref="ApiExceptionHandler"/>.
/// </summary>
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
            return ApiProblems.ForException(e, context.HttpContext.Response);
        }
    }
}
