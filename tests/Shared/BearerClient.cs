using System.Net.Http.Headers;

namespace Trousseau.Tests.Support;

/// <summary>HTTP clients for the API, carrying the bearer token as clectl and applications send it.</summary>
public static class BearerClient
{
    /// <summary>The token trousseaud wrote to <paramref name="tokenFile"/> (its <c>api.token</c>), without the line end.</summary>
    public static async Task<string> ReadTokenAsync(string tokenFile) => (await File.ReadAllTextAsync(tokenFile)).Trim();

    /// <summary>A client for <paramref name="baseAddress"/> that sends <paramref name="token"/> on every request.</summary>
    public static HttpClient Create(Uri baseAddress, string token)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>A client for <paramref name="baseAddress"/> that sends the token read from <paramref name="tokenFile"/>.</summary>
    public static async Task<HttpClient> FromTokenFileAsync(Uri baseAddress, string tokenFile) =>
        Create(baseAddress, await ReadTokenAsync(tokenFile));
}
