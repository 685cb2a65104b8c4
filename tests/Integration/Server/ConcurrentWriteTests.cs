using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Many clients writing the same secret at once on a real trousseaud: each write is answered as it would be alone,
/// and no acknowledged write is lost.
/// </summary>
public sealed class ConcurrentWriteTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private const int Writers = 24;

    private readonly HttpClient _http = fixture.Http;

    [Theory]
    [InlineData(null, "concurrent/patches")]
    [InlineData("*", "concurrent/patches-star")]
    public async Task Patches_sent_at_once_without_if_match_or_with_if_match_star_all_apply_and_every_key_is_kept(string? ifMatch, string name)
    {
        await CreateAsync(name);

        var answers = await Task.WhenAll(Enumerable.Range(0, Writers).Select(i =>
            SendAsync(HttpMethod.Patch, name, i, $$$"""{"data":{"k{{{i}}}":"v{{{i}}}"}}""", "application/merge-patch+json", ifMatch)));

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.Status));
        var data = await DataAsync(name);
        Assert.Equal(Writers + 1, data.Count);
        Assert.All(Enumerable.Range(0, Writers), i => Assert.Equal($"v{i}", data[$"k{i}"]));
    }

    [Fact]
    public async Task Puts_without_if_match_sent_at_once_all_apply_and_the_last_one_acknowledged_stays()
    {
        const string name = "concurrent/puts";
        await CreateAsync(name);

        var answers = await Task.WhenAll(Enumerable.Range(0, Writers).Select(i =>
            SendAsync(HttpMethod.Put, name, i, $$$"""{"data":{"v":"v{{{i}}}"}}""", "application/json")));

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.Status));
        Assert.Equal(Writers, answers.Select(answer => answer.Revision).Distinct().Count());
        var last = answers.MaxBy(answer => answer.Revision);
        Assert.Equal($"v{last.Index}", (await DataAsync(name))["v"]);
    }

    [Fact]
    public async Task Puts_and_regenerates_with_if_match_star_sent_at_once_all_apply()
    {
        const string name = "concurrent/puts-star";
        await CreateAsync(name);

        var answers = await Task.WhenAll(Enumerable.Range(0, Writers).Select(i => i % 2 == 0
            ? SendAsync(HttpMethod.Put, name, i, $$$"""{"data":{"base":"v{{{i}}}"}}""", "application/json", ifMatch: "*")
            : SendAsync(HttpMethod.Post, name + "/regenerate", i, "{}", "application/json", ifMatch: "*")));

        Assert.All(answers, answer => Assert.Equal(HttpStatusCode.OK, answer.Status));
        Assert.Equal(Writers, answers.Select(answer => answer.Revision).Distinct().Count());
    }

    [Fact]
    public async Task A_delete_with_if_match_star_among_writers_deletes_the_secret()
    {
        const string name = "concurrent/delete-star";
        await CreateAsync(name);

        var writes = Enumerable.Range(0, Writers).Select(i =>
            SendAsync(HttpMethod.Patch, name, i, $$$"""{"data":{"k{{{i}}}":"v{{{i}}}"}}""", "application/merge-patch+json")).ToList();
        var delete = SendAsync(HttpMethod.Delete, name, Writers, null, null, ifMatch: "*");
        await Task.WhenAll(writes);

        Assert.Equal(HttpStatusCode.NoContent, (await delete).Status);
        using var read = await _http.GetAsync(new Uri("v1/secrets/" + name, UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
    }

    private async Task CreateAsync(string name)
    {
        using var created = await _http.PostAsJsonAsync(new Uri("v1/secrets", UriKind.Relative), new { name, data = new { @base = "x" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    private async Task<(HttpStatusCode Status, long Revision, int Index)> SendAsync(
        HttpMethod method, string name, int index, string? body, string? mediaType, string? ifMatch = null)
    {
        using var request = new HttpRequestMessage(method, new Uri("v1/secrets/" + name, UriKind.Relative));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, mediaType);
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        using var response = await _http.SendAsync(request);
        var revision = response.StatusCode == HttpStatusCode.OK
            ? (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revision").GetInt64()
            : 0;
        return (response.StatusCode, revision, index);
    }

    private async Task<Dictionary<string, string>> DataAsync(string name)
    {
        using var response = await _http.GetAsync(new Uri("v1/secrets/" + name, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").Deserialize<Dictionary<string, string>>()!;
    }
}
