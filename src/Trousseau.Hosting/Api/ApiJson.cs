using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Trousseau.Remote;

namespace Trousseau.Hosting.Api;

/// <summary>
/// How the API writes JSON: the wire contract's source-generated types (so that a Native AOT host writes them the
/// same), with characters written as themselves where JSON allows it. A value such as <c>a+b/c&lt;d&gt;&amp;'</c>
/// (base64, a generated password) reads in curl's output as it is, not as <c>a\u002Bb</c>; JSON's own escapes stay
/// (quote, backslash, control characters). The answers are never HTML: their content type is JSON and
/// <c>X-Content-Type-Options: nosniff</c> keeps a browser from taking them for anything else.
/// </summary>
internal static class ApiJson
{
    /// <summary>The wire contract's types, read as <see cref="WireJson.Default"/> reads them and written without HTML escaping.</summary>
    public static WireJson Wire { get; } = new(new JsonSerializerOptions(WireJson.Default.Options) { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });

    /// <summary>For the answers written by hand (<c>/healthz</c>, <c>/readyz</c>): the same escaping.</summary>
    public static JsonWriterOptions WriterOptions { get; } = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Tells a browser not to guess another content type than the answer's JSON.</summary>
    public static void NoSniff(HttpResponse response) => response.Headers.XContentTypeOptions = "nosniff";
}

/// <summary>Marks every answer of the API with <c>X-Content-Type-Options: nosniff</c>, refusals of the other filters included.</summary>
internal sealed class NoSniffFilter : IEndpointFilter
{
    public ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ApiJson.NoSniff(context.HttpContext.Response);
        return next(context);
    }
}
