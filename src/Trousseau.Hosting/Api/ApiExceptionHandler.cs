using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;

namespace Trousseau.Hosting.Api;

/// <summary>
/// The fallback for the API's routes (those <c>MapTrousseauApi</c> maps): whatever escapes them, an exception no
/// filter mapped or a failure while writing the answer, becomes problem details; an unexpected one is a 500
/// <c>urn:trousseau:problem:internal</c>, logged with the exception. Requests to the application's other routes are
/// left to its own handlers.
/// </summary>
internal sealed partial class ApiExceptionHandler(ILogger<ApiExceptionHandler> logger) : IExceptionHandler
{
    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var endpoint = httpContext.Features.Get<IExceptionHandlerFeature>()?.Endpoint ?? httpContext.GetEndpoint();
        if (endpoint?.Metadata.GetMetadata<TrousseauApiEndpointMetadata>() is null || httpContext.Response.HasStarted)
        {
            return false;
        }

        if (ApiProblems.IsClientGone(exception, httpContext))
        {
            // Nobody is left to answer, and nothing failed: no error logged (as ASP.NET Core's own handler does once
            // the request's token is cancelled).
            httpContext.Response.StatusCode = StatusCodes.Status499ClientClosedRequest;
            return true;
        }

        if (!ApiProblems.IsMapped(exception))
        {
            LogUnexpected(logger, httpContext.Request.Method, (endpoint as RouteEndpoint)?.RoutePattern.RawText ?? endpoint.DisplayName ?? "", exception);
        }

        ApiJson.NoSniff(httpContext.Response);
        await ApiProblems.ForException(exception, httpContext.Response).ExecuteAsync(httpContext);
        return true;
    }

    [LoggerMessage(EventId = 6200, Level = LogLevel.Error, Message = "API request {Method} {Route} failed unexpectedly; answered 500 urn:trousseau:problem:internal")]
    private static partial void LogUnexpected(ILogger logger, string method, string route, Exception exception);
}

/// <summary>Marks the endpoints of <c>MapTrousseauApi</c>, whose failures <see cref="ApiExceptionHandler"/> answers.</summary>
internal sealed class TrousseauApiEndpointMetadata
{
    public static TrousseauApiEndpointMetadata Instance { get; } = new();
}
