using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// The answers as a client written in another language parses them: where a created secret lives, which answers a
/// cache must not keep, and problem details on every error, routing's own 404 and 405 included.
/// </summary>
public sealed class ApiClientAnswerTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private HttpClient Http => fixture.Http;

    [Theory]
    [InlineData("v1/secrets", """{"name":"answers/created","data":{"k":"v"}}""", "answers/created")]
    [InlineData("v1/secrets/answers/generated/generate", "{}", "answers/generated")]
    public async Task A_create_or_generate_answers_201_with_the_location_of_the_new_secret(string path, string body, string name)
    {
        using var created = await SendAsync(HttpMethod.Post, path, body);

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Equal($"/v1/secrets/{name}", created.Headers.Location?.OriginalString);
        using var read = await Http.GetAsync(new Uri(Http.BaseAddress!, created.Headers.Location!));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(name, (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("name").GetString());
    }

    [Fact]
    public async Task Every_answer_that_carries_or_makes_a_secret_value_tells_caches_not_to_store_it()
    {
        using var encrypted = await SendAsync(HttpMethod.Post, "v1/encrypt", """{"plaintext":"c2VjcmV0"}""");
        var ciphertext = (await encrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ciphertext").GetString();
        using var decrypted = await SendAsync(HttpMethod.Post, "v1/decrypt", $$"""{"ciphertext":"{{ciphertext}}"}""");
        using var generated = await SendAsync(HttpMethod.Post, "v1/secrets/answers/no-store/generate", "{}");
        using var regenerated = await SendAsync(HttpMethod.Post, "v1/secrets/answers/no-store/regenerate", "{}");
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/answers/no-store");

        Assert.Equal("c2VjcmV0", (await decrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("plaintext").GetString());
        Assert.Equal(HttpStatusCode.Created, generated.StatusCode);
        Assert.Equal(HttpStatusCode.OK, regenerated.StatusCode);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.All(
            new[] { ("decrypt", decrypted), ("generate", generated), ("regenerate", regenerated), ("read", read) },
            answer => Assert.True(answer.Item2.Headers.CacheControl?.NoStore == true, $"{answer.Item1} answered Cache-Control: {answer.Item2.Headers.CacheControl}"));
    }

    [Theory]
    [InlineData("GET", "v1/nothing", HttpStatusCode.NotFound, "urn:trousseau:problem:not-found", null)]
    [InlineData("GET", "v1", HttpStatusCode.NotFound, "urn:trousseau:problem:not-found", null)]
    [InlineData("DELETE", "v1/keys", HttpStatusCode.MethodNotAllowed, Problems.InvalidInput, "GET, HEAD")]
    [InlineData("GET", "v1/keys/rotate", HttpStatusCode.MethodNotAllowed, Problems.InvalidInput, "POST")]
    [InlineData("OPTIONS", "v1/secrets/answers/x", HttpStatusCode.MethodNotAllowed, Problems.InvalidInput, "DELETE, GET, HEAD, PATCH, POST, PUT")]
    public async Task A_path_no_route_serves_or_a_method_the_route_does_not_take_is_answered_with_problem_details(
        string method, string path, HttpStatusCode status, string type, string? allow)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        using var response = await Http.SendAsync(request);

        var problem = await Problems.AssertAsync(response, status);
        Assert.Equal(type, problem.GetProperty("type").GetString());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("detail").GetString()));
        if (allow is not null)
        {
            Assert.Equal(allow, string.Join(", ", response.Content.Headers.Allow.Order(StringComparer.Ordinal)));
            Assert.Contains(allow, problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("identity, br")]
    public async Task A_body_sent_with_a_content_coding_is_415_naming_identity_and_creates_nothing(string coding)
    {
        var json = Encoding.UTF8.GetBytes("""{"name":"answers/compressed","data":{"k":"v"}}""");
        using var compressed = new MemoryStream();
        await using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
        {
            await gzip.WriteAsync(json);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/secrets") { Content = new ByteArrayContent(coding == "gzip" ? compressed.ToArray() : json) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Content.Headers.TryAddWithoutValidation("Content-Encoding", coding);

        using var response = await Http.SendAsync(request);

        var problem = await Problems.AssertInvalidInputAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Contains("Content-Encoding", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("identity", string.Join(", ", response.Headers.GetValues("Accept-Encoding")));
        using var read = await Http.GetAsync("v1/secrets/answers/compressed");
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return await Http.SendAsync(request);
    }
}
