using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using Microsoft.Net.Http.Headers;

namespace Trousseau.Hosting.Api;

/// <summary>Reads and checks what a request sends as its body: JSON, bounded.</summary>
internal static class ApiRequests
{
    /// <summary>The media type of a JSON merge patch (RFC 7396), the body of <c>PATCH /v1/secrets/{name}</c>.</summary>
    public const string MergePatchMediaType = "application/merge-patch+json";

    /// <summary>The media type of every other request body.</summary>
    public const string JsonMediaType = "application/json";

    // The longest JSON path a problem repeats; a longer one is left out, as an invalid name or data key is.
    private const int MaxEchoedPathLength = 300;

    /// <summary>
    /// The body, or an error result: 415 unless the type is <paramref name="mediaType"/> in UTF-8, 413 when too
    /// large, 400 when the JSON does not match <paramref name="typeInfo"/> or the transfer framing is malformed.
    /// </summary>
    public static async Task<(T? Body, IResult? Error)> ReadJsonAsync<T>(HttpContext context, JsonTypeInfo<T> typeInfo, string mediaType = JsonMediaType)
        where T : class
    {
        var request = context.Request;
        if (!IsUtf8(request.ContentType, mediaType))
        {
            return (null, ApiProblems.UnsupportedMediaType(mediaType));
        }

        if (ContentCoding(request) is { } coding)
        {
            // RFC 9110, section 15.5.16: a 415 for a content coding the server does not take names the ones it does.
            context.Response.Headers.AcceptEncoding = "identity";
            return (null, ApiProblems.UnsupportedContentCoding(coding));
        }

        var limit = BodyLimit(context);
        if (request.ContentLength > limit)
        {
            return (null, ApiProblems.BodyTooLarge(limit));
        }

        if (request.ContentLength == 0 || context.Features.Get<IHttpRequestBodyDetectionFeature>() is { CanHaveBody: false })
        {
            return (null, ApiProblems.Invalid("The request body is empty; send a JSON object ({} at least, on the routes that take no input)."));
        }

        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
        {
            sizeFeature.MaxRequestBodySize = limit;
        }

        try
        {
            var body = await JsonSerializer.DeserializeAsync(request.Body, typeInfo, context.RequestAborted);
            return body is null ? (null, ApiProblems.Invalid("The request body must be a JSON object.")) : (body, null);
        }
        catch (Exception e) when (e is BadHttpRequestException or IOException && (context.RequestAborted.IsCancellationRequested || EndedEarly(e)))
        {
            // The client went away while sending the body: Kestrel closes the connection without an answer, so the
            // request was not answered 400 but cancelled, and is audited as such.
            throw new OperationCanceledException("The client closed the connection while sending the request body.", e, context.RequestAborted);
        }
        catch (JsonException e)
        {
            return (null, ApiProblems.Invalid($"The request body is not valid JSON for this route: {Describe(e)} Each property is spelled as documented (case-sensitive), appears once and has the documented JSON type."));
        }
        catch (BadHttpRequestException e)
        {
            return (null, ApiProblems.BodyRejected(e.StatusCode, e.Message, limit));
        }
        catch (IOException e)
        {
            // Kestrel reports some malformed framing as a plain IOException rather than a BadHttpRequestException:
            // a chunk size of 2^31 or more overflows ("Bad chunk size data.").
            return (null, ApiProblems.BodyRejected(StatusCodes.Status400BadRequest, e.Message, limit));
        }
    }

    /// <summary>
    /// Whether Kestrel refused the body because the connection ended before the length it announced: Kestrel then
    /// aborts the request, but cancels <see cref="HttpContext.RequestAborted"/> only a moment later, on the thread pool.
    /// </summary>
    private static bool EndedEarly(Exception e) =>
        e is BadHttpRequestException { StatusCode: StatusCodes.Status400BadRequest } bad
        && string.Equals(bad.Message, "Unexpected end of request content.", StringComparison.Ordinal);

    /// <summary>
    /// The request's <c>Content-Encoding</c> when it names a coding other than <c>identity</c> (<c>gzip</c>, <c>br</c>):
    /// the API reads bodies as they are, and would take compressed bytes for malformed JSON.
    /// </summary>
    private static string? ContentCoding(HttpRequest request)
    {
        var codings = ListValues(request.Headers.ContentEncoding)
            .Where(coding => !coding.Equals("identity", StringComparison.OrdinalIgnoreCase))
            .ToList();
        return codings.Count == 0 ? null : string.Join(", ", codings);
    }

    /// <summary>The members of a header whose value is a comma-separated list (RFC 9110, section 5.6.1), trimmed.</summary>
    public static IEnumerable<string> ListValues(StringValues header) =>
        header.SelectMany(value => (value ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));

    /// <summary>The largest request body accepted, <c>Trousseau:Api:MaxRequestBodyBytes</c>.</summary>
    public static long BodyLimit(HttpContext context) =>
        context.RequestServices.GetRequiredService<IOptions<TrousseauApiOptions>>().Value.MaxRequestBodyBytes;

    /// <summary>
    /// Whether the content type is JSON (<c>application/json</c> or <c>application/merge-patch+json</c>), whose only
    /// parameter may be charset=utf-8: a type a web page cannot send to another site without a CORS preflight.
    /// </summary>
    public static bool IsJson(string? contentType) =>
        IsUtf8(contentType, JsonMediaType) || IsUtf8(contentType, MergePatchMediaType);

    // The JSON media type expected, whose only parameter may be charset=utf-8 (RFC 8259, section 8.1: JSON is UTF-8).
    private static bool IsUtf8(string? contentType, string expected) =>
        MediaTypeHeaderValue.TryParse(contentType, out var mediaType)
        && mediaType.MediaType.Equals(expected, StringComparison.OrdinalIgnoreCase)
        && mediaType.Parameters.All(p =>
            p.Name.Equals("charset", StringComparison.OrdinalIgnoreCase)
            && HeaderUtilities.RemoveQuotes(p.Value).Equals("utf-8", StringComparison.OrdinalIgnoreCase));

    // The serializer's message names the JSON path and position but never echoes values; keep only that part, and the
    // path only while it is short: it holds the body's property names, among them data keys of any length.
    private static string Describe(JsonException e) => e.Path switch
    {
        null => "it could not be parsed.",
        { Length: <= MaxEchoedPathLength } path => $"problem at {path} (line {e.LineNumber + 1}, byte {e.BytePositionInLine}).",
        _ => $"problem at line {e.LineNumber + 1}, byte {e.BytePositionInLine}, under a property name too long to repeat.",
    };
}
