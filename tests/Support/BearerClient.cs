using System.Net.Http.Headers;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>HTTP clients for the API, carrying the bearer token as clectl and applications send it.</summary>
public static class BearerClient
{
    /// <summary>The token trousseaud wrote to <paramref name="tokenFile"/> (its <c>api.token</c>), without the line end.</summary>
    public static async Task<string> ReadTokenAsync(string tokenFile) => (await File.ReadAllTextAsync(tokenFile)).Trim();

    /// <summary>
    /// A client for <paramref name="baseAddress"/> that sends <paramref name="token"/> on every request and gives up on
    /// one after <paramref name="timeout"/> (30 s unless given).
    /// </summary>
    public static HttpClient Create(Uri baseAddress, string token, TimeSpan? timeout = null)
    {
        var http = new HttpClient { BaseAddress = baseAddress, Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http;
    }

    /// <summary>A client for <paramref name="baseAddress"/> that sends the token read from <paramref name="tokenFile"/>.</summary>
    public static async Task<HttpClient> FromTokenFileAsync(Uri baseAddress, string tokenFile, TimeSpan? timeout = null) =>
        Create(baseAddress, await ReadTokenAsync(tokenFile), timeout);
}
