using Microsoft.AspNetCore.Http;

namespace Trousseau.Hosting.Api;

/// <summary>
/// Refuses with 415 a <c>POST</c>, <c>PUT</c> or <c>PATCH</c> whose content type is not JSON, body or not: a web page
/// can send another site only such requests without asking it first (a CORS preflight), which the API never grants.
/// It runs after authentication and the policy check, so that a caller without credentials gets 401 (with its
/// challenge) before any rule about what it sends; in mode <c>none</c>, or with a client certificate a browser
/// presents by itself, it still stops such a request before the handler acts.
/// </summary>
internal sealed class JsonContentTypeFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var request = context.HttpContext.Request;
        return ChangesState(request.Method) && !ApiRequests.IsJson(request.ContentType)
            ? new(ApiProblems.UnsupportedMediaType(ApiRequests.JsonMediaType))
            : next(context);
    }

    private static bool ChangesState(string method) =>
        HttpMethods.IsPost(method) || HttpMethods.IsPut(method) || HttpMethods.IsPatch(method);
}
