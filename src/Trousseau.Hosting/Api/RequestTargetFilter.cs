using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Refuses a request whose target holds a <c>.</c> or <c>..</c> segment, percent-encoded or not. The server resolves
/// such segments before routing (<c>/v1/secrets/tmp/../prod/db</c> arrives as <c>prod/db</c>), so the route would act
/// on another secret than the one the client named; no valid secret name holds one.
/// </summary>
internal sealed class RequestTargetFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next) =>
        HasDotSegment(context.HttpContext.Features.Get<IHttpRequestFeature>()?.RawTarget)
            ? new(ApiProblems.Invalid("The request path must not contain '.' or '..' segments (percent-encoded or not): secret names never hold them, and the API does not resolve them."))
            : next(context);

    private static bool HasDotSegment(string? target)
    {
        if (string.IsNullOrEmpty(target))
        {
            return false;
        }

        var query = target.IndexOf('?', StringComparison.Ordinal);
        var path = Uri.UnescapeDataString(query < 0 ? target : target[..query]);
        return path.Split('/').Any(segment => segment is "." or "..");
    }
}
