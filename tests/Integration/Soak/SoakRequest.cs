using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>The requests the soak loads send to trousseaud's HTTP API.</summary>
internal static class SoakRequest
{
    /// <summary>A request for <paramref name="path"/>, with <paramref name="body"/> as JSON and <c>If-Match</c> naming <paramref name="ifMatch"/>, when given.</summary>
    public static HttpRequestMessage Create(HttpMethod method, string path, object? body = null, long? ifMatch = null)
    {
        var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        if (ifMatch is { } revision)
        {
            request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{revision.ToString(CultureInfo.InvariantCulture)}\""));
        }

        return request;
    }
}
