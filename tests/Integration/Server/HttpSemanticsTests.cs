using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// The API as a client that knows HTTP (RFC 9110) uses it: <c>HEAD</c> wherever <c>GET</c> is taken, authentication
/// before any rule about the request's content, and conditional requests (<c>If-Match</c>, <c>If-None-Match</c>) on a
/// secret, whose entity tag is its revision.
/// </summary>
public sealed class HttpSemanticsTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private HttpClient Http => fixture.Http;

    private string Trail => Path.Combine(fixture.DataDir, "audit.log");

    [Theory]
    [InlineData("v1/secrets/head/x", HttpStatusCode.OK)]
    [InlineData("v1/secrets/head/absent", HttpStatusCode.NotFound)]
    [InlineData("v1/secrets?prefix=head/", HttpStatusCode.OK)]
    [InlineData("v1/keys", HttpStatusCode.OK)]
    [InlineData("v1/auth/whoami", HttpStatusCode.OK)]
    [InlineData("healthz", HttpStatusCode.OK)]
    [InlineData("readyz", HttpStatusCode.OK)]
    public async Task Head_answers_with_the_status_and_headers_of_get_and_no_body(string path, HttpStatusCode status)
    {
        await CreateAsync("head/x");

        using var get = await SendAsync(HttpMethod.Get, path);
        using var head = await SendAsync(HttpMethod.Head, path);

        Assert.Equal(status, get.StatusCode);
        Assert.Equal(status, head.StatusCode);
        Assert.Equal(get.Headers.ETag, head.Headers.ETag);
        Assert.Equal(get.Headers.CacheControl, head.Headers.CacheControl);
        Assert.Equal(get.Content.Headers.ContentType, head.Content.Headers.ContentType);
        Assert.Equal(get.Content.Headers.NonValidated.Contains("Content-Length"), head.Content.Headers.NonValidated.Contains("Content-Length"));
        Assert.Empty(await head.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Head_of_a_secret_is_recorded_as_a_read()
    {
        var revision = await CreateAsync("head/audited");

        using var head = await SendAsync(HttpMethod.Head, "v1/secrets/head/audited");

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        using var record = JsonDocument.Parse(File.ReadAllLines(Trail).Last(l => l.Contains("\"secret\":\"head/audited\"", StringComparison.Ordinal)));
        Assert.Equal("read", record.RootElement.GetProperty("action").GetString());
        Assert.Equal(revision, record.RootElement.GetProperty("revision").GetInt64());
        Assert.Equal("ok", record.RootElement.GetProperty("outcome").GetString());
    }

    [Theory]
    [InlineData("POST", "v1/secrets", "text/plain", null, HttpStatusCode.Unauthorized)]
    [InlineData("PUT", "v1/secrets/order/x", null, null, HttpStatusCode.Unauthorized)]
    [InlineData("PATCH", "v1/secrets/order/x", "application/json", null, HttpStatusCode.Unauthorized)]
    [InlineData("POST", "v1/keys/rotate", "text/plain", "Host: evil.example", HttpStatusCode.MisdirectedRequest)]
    [InlineData("POST", "v1/keys/rotate", "text/plain", "Origin: http://evil.example", HttpStatusCode.Forbidden)]
    public async Task Without_credentials_a_write_is_401_before_its_content_type_is_checked_and_browser_checks_come_first(
        string method, string path, string? contentType, string? header, HttpStatusCode status)
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.Server.BaseAddress };
        using var request = new HttpRequestMessage(new HttpMethod(method), path) { Content = new ByteArrayContent("{}"u8.ToArray()) };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        if (header?.Split(": ") is [var name, var value])
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        using var response = await anonymous.SendAsync(request);

        await Problems.AssertAsync(response, status);
        Assert.Equal(status == HttpStatusCode.Unauthorized ? "Bearer" : null, response.Headers.WwwAuthenticate.SingleOrDefault()?.Scheme);
    }

    [Theory]
    [InlineData("\"{0}\"", HttpStatusCode.NotModified)]
    [InlineData("W/\"{0}\"", HttpStatusCode.NotModified)]
    [InlineData("\"999999\", \"{0}\"", HttpStatusCode.NotModified)]
    [InlineData("*", HttpStatusCode.NotModified)]
    [InlineData("\"999999\"", HttpStatusCode.OK)]
    [InlineData("\"abc\", W/\"\"", HttpStatusCode.OK)]
    [InlineData("\"abc\", W/\"{0}\"", HttpStatusCode.NotModified)]
    [InlineData("{0}", HttpStatusCode.NotModified)]
    [InlineData("999999", HttpStatusCode.OK)]
    public async Task A_conditional_get_or_head_is_304_with_the_etag_when_if_none_match_names_the_revision(string ifNoneMatch, HttpStatusCode status)
    {
        var revision = await CreateAsync("conditional/read");
        var header = string.Format(CultureInfo.InvariantCulture, ifNoneMatch, revision);

        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Head })
        {
            using var response = await SendAsync(method, "v1/secrets/conditional/read", ifNoneMatch: header);

            Assert.Equal(status, response.StatusCode);
            Assert.Equal($"\"{revision}\"", response.Headers.ETag?.ToString());
            Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
            Assert.Equal(status == HttpStatusCode.OK && method == HttpMethod.Get, (await response.Content.ReadAsByteArrayAsync()).Length > 0);
        }
    }

    [Theory]
    [InlineData("PUT", "", """{"data":{"k":"changed"}}""")]
    [InlineData("PATCH", "", """{"data":{"k":"changed"}}""")]
    [InlineData("DELETE", "", null)]
    [InlineData("POST", "/regenerate", "{}")]
    public async Task If_none_match_star_on_a_write_to_an_existing_secret_is_412_and_changes_nothing(string method, string suffix, string? body)
    {
        var revision = await CreateAsync("conditional/kept-" + method.ToLowerInvariant());
        var path = "v1/secrets/conditional/kept-" + method.ToLowerInvariant();

        using var response = await SendAsync(new HttpMethod(method), path + suffix, body, ifNoneMatch: "*");

        var problem = await Problems.AssertAsync(response, HttpStatusCode.PreconditionFailed);
        Assert.Equal(ProblemTypes.RevisionMismatch, problem.GetProperty("type").GetString());
        Assert.Contains("If-None-Match", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(revision, await RevisionAsync(path));
    }

    [Theory]
    [InlineData("PUT", null, "W/\"{0}\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("DELETE", null, "\"999999\", \"{0}\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("PATCH", "\"{0}\"", "\"{0}\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("DELETE", "\"{0}\"", "W/\"{0}\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("PUT", "\"{0}\"", "\"999999\"", HttpStatusCode.OK)]
    [InlineData("PUT", "*", "\"{0}\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("PATCH", "*", "W/\"{0}\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("PUT", "*", "\"999999\"", HttpStatusCode.OK)]
    public async Task If_none_match_naming_the_current_revision_weakly_or_strongly_refuses_a_write_even_when_if_match_holds(
        string method, string? ifMatch, string ifNoneMatch, HttpStatusCode status)
    {
        var name = $"conditional/none-{Guid.NewGuid():N}";
        var revision = await CreateAsync(name);
        string? Format(string? header) => header is null ? null : string.Format(CultureInfo.InvariantCulture, header, revision);

        using var response = await SendAsync(
            new HttpMethod(method), "v1/secrets/" + name, method == "DELETE" ? null : """{"data":{"k":"changed"}}""", Format(ifMatch), Format(ifNoneMatch));

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(status == HttpStatusCode.OK, await RevisionAsync("v1/secrets/" + name) != revision);
    }

    [Theory]
    [InlineData("create", "*", null, HttpStatusCode.PreconditionFailed)]
    [InlineData("create", "\"1\"", null, HttpStatusCode.PreconditionFailed)]
    [InlineData("generate", "*", null, HttpStatusCode.PreconditionFailed)]
    [InlineData("generate", "\"1\"", null, HttpStatusCode.PreconditionFailed)]
    [InlineData("create", null, "*", HttpStatusCode.Created)]
    [InlineData("generate", null, "*", HttpStatusCode.Created)]
    public async Task A_create_with_if_match_is_412_and_creates_nothing_while_if_none_match_star_creates(
        string route, string? ifMatch, string? ifNoneMatch, HttpStatusCode status)
    {
        var name = $"conditional/new-{Guid.NewGuid():N}";
        var (path, body) = route == "create"
            ? ("v1/secrets", $$$"""{"name":"{{{name}}}","data":{"k":"v"}}""")
            : ($"v1/secrets/{name}/generate", "{}");

        using var response = await SendAsync(HttpMethod.Post, path, body, ifMatch, ifNoneMatch);

        Assert.Equal(status, response.StatusCode);
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/" + name);
        Assert.Equal(status == HttpStatusCode.Created ? HttpStatusCode.OK : HttpStatusCode.NotFound, read.StatusCode);
    }

    [Theory]
    [InlineData("create", "*")]
    [InlineData("generate", "\"{0}\"")]
    [InlineData("create", null)]
    public async Task A_create_of_an_existing_secret_stays_409_whatever_the_preconditions(string route, string? ifMatch)
    {
        var revision = await CreateAsync("conditional/exists-" + route);
        var (path, body) = route == "create"
            ? ("v1/secrets", $$$"""{"name":"conditional/exists-{{{route}}}","data":{"k":"v"}}""")
            : ("v1/secrets/conditional/exists-generate/generate", "{}");

        using var response = await SendAsync(HttpMethod.Post, path, body, ifMatch is null ? null : string.Format(CultureInfo.InvariantCulture, ifMatch, revision), ifNoneMatch: "*");

        await Problems.AssertAsync(response, HttpStatusCode.Conflict);
        Assert.Equal(revision, await RevisionAsync("v1/secrets/conditional/exists-" + route));
    }

    [Theory]
    [InlineData("\"{0}\"", HttpStatusCode.OK)]
    [InlineData("\"999998\", \"{0}\"", HttpStatusCode.OK)]
    [InlineData("*", HttpStatusCode.OK)]
    [InlineData("\"999998\", \"999999\"", HttpStatusCode.PreconditionFailed)]
    [InlineData("{0}", HttpStatusCode.OK)]
    [InlineData("999998, {0}", HttpStatusCode.OK)]
    [InlineData("\"999998\",\t\"{0}\"", HttpStatusCode.OK)]
    [InlineData("\"999998\"\t,\t{0}", HttpStatusCode.OK)]
    [InlineData("999999", HttpStatusCode.PreconditionFailed)]
    public async Task If_match_on_a_put_takes_a_list_of_revisions_or_star(string ifMatch, HttpStatusCode status)
    {
        var name = $"conditional/list-{Guid.NewGuid():N}";
        var revision = await CreateAsync(name);

        using var response = await SendAsync(
            HttpMethod.Put, "v1/secrets/" + name, """{"data":{"k":"changed"}}""", string.Format(CultureInfo.InvariantCulture, ifMatch, revision));

        Assert.Equal(status, response.StatusCode);
        Assert.Equal(status == HttpStatusCode.OK, await RevisionAsync("v1/secrets/" + name) != revision);
    }

    [Theory]
    [InlineData("PUT", "", """{"data":{"k":"changed"}}""", "W/\"{0}\"")]
    [InlineData("PATCH", "", """{"data":{"k":"changed"}}""", "W/\"{0}\"")]
    [InlineData("DELETE", "", null, "W/\"{0}\"")]
    [InlineData("POST", "/regenerate", "{}", "W/\"{0}\"")]
    [InlineData("PUT", "", """{"data":{"k":"changed"}}""", "W/\"{0}\", \"999999\"")]
    [InlineData("PUT", "", """{"data":{"k":"changed"}}""", "\"abc\"")]
    [InlineData("DELETE", "", null, "\"0\"")]
    [InlineData("DELETE", "", null, "\"\"")]
    [InlineData("DELETE", "", null, "\"99999999999999999999\"")]
    [InlineData("GET", "", null, "W/\"{0}\"")]
    public async Task An_if_match_that_names_no_revision_under_strong_comparison_is_412_and_changes_nothing(string method, string suffix, string? body, string ifMatch)
    {
        var name = $"conditional/strong-{Guid.NewGuid():N}";
        var revision = await CreateAsync(name);

        using var response = await SendAsync(
            new HttpMethod(method), "v1/secrets/" + name + suffix, body, ifMatch: string.Format(CultureInfo.InvariantCulture, ifMatch, revision));

        var problem = await Problems.AssertAsync(response, HttpStatusCode.PreconditionFailed);
        Assert.Equal(ProblemTypes.RevisionMismatch, problem.GetProperty("type").GetString());
        Assert.Equal(revision, await RevisionAsync("v1/secrets/" + name));
    }

    [Theory]
    [InlineData("GET")]
    [InlineData("HEAD")]
    public async Task A_read_whose_if_match_fails_is_412_even_when_if_none_match_names_the_revision(string method)
    {
        var name = $"conditional/order-{Guid.NewGuid():N}";
        var revision = await CreateAsync(name);

        using var response = await SendAsync(
            new HttpMethod(method), "v1/secrets/" + name, ifMatch: "\"999999\"", ifNoneMatch: $"\"{revision}\"");

        Assert.Equal(HttpStatusCode.PreconditionFailed, response.StatusCode);
        Assert.Equal($"\"{revision}\"", response.Headers.ETag?.ToString());
    }

    [Theory]
    [InlineData("PUT", "W/\"{0}\"", true)]
    [InlineData("PUT", "W/\"{0}\", \"999999\"", true)]
    [InlineData("PUT", "\"999999\"", false)]
    [InlineData("PUT", "\"999998\", \"999999\"", false)]
    [InlineData("GET", "W/\"{0}\"", true)]
    [InlineData("GET", "\"999999\"", false)]
    public async Task A_412_for_if_match_explains_strong_comparison_only_when_the_header_holds_a_weak_tag(string method, string ifMatch, bool weak)
    {
        var name = $"conditional/note-{Guid.NewGuid():N}";
        var revision = await CreateAsync(name);

        using var response = await SendAsync(
            new HttpMethod(method),
            "v1/secrets/" + name,
            method == "PUT" ? """{"data":{"k":"changed"}}""" : null,
            ifMatch: string.Format(CultureInfo.InvariantCulture, ifMatch, revision));

        var detail = (await Problems.AssertAsync(response, HttpStatusCode.PreconditionFailed)).GetProperty("detail").GetString();
        Assert.Equal(weak, detail!.Contains("a weak tag, W/\"42\", never matches", StringComparison.Ordinal));
        Assert.Equal(revision, await RevisionAsync("v1/secrets/" + name));
    }

    [Theory]
    [InlineData("W/\"{0}\", \"{0}\"")]
    [InlineData("\"abc\", \"{0}\"")]
    [InlineData("\"\", W/\"{0}\", \"{0}\"")]
    public async Task An_if_match_list_holding_the_revision_as_a_strong_tag_matches_whatever_else_it_holds(string tags)
    {
        var name = $"conditional/listed-{Guid.NewGuid():N}";
        var revision = await CreateAsync(name);

        using var put = await SendAsync(
            HttpMethod.Put, "v1/secrets/" + name, """{"data":{"k":"changed"}}""", ifMatch: string.Format(CultureInfo.InvariantCulture, tags, revision));

        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        Assert.NotEqual(revision, await RevisionAsync("v1/secrets/" + name));
    }

    [Theory]
    [InlineData("PUT", """{"data":{"k":"v"}}""", "*", null)]
    [InlineData("PATCH", """{"data":{"k":"v"}}""", "\"5\", \"6\"", null)]
    [InlineData("DELETE", null, null, "*")]
    public async Task A_conditional_write_to_a_secret_that_does_not_exist_is_404_as_without_the_condition(string method, string? body, string? ifMatch, string? ifNoneMatch)
    {
        using var response = await SendAsync(new HttpMethod(method), "v1/secrets/conditional/absent", body, ifMatch, ifNoneMatch);

        await Problems.AssertAsync(response, HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("GET", null, "*", HttpStatusCode.NotFound)]
    [InlineData("DELETE", null, "*", HttpStatusCode.NotFound)]
    [InlineData("POST", "*", null, HttpStatusCode.PreconditionFailed)]
    public async Task A_conditional_call_on_a_secret_that_does_not_exist_is_not_answered_from_a_secret_whose_name_begins_with_its_name(
        string method, string? ifMatch, string? ifNoneMatch, HttpStatusCode status)
    {
        var name = "conditional/begun-" + method.ToLowerInvariant();
        var longer = await CreateAsync(name + "-longer");
        var (path, body) = method == "POST" ? ("v1/secrets", $$$"""{"name":"{{{name}}}","data":{"k":"v"}}""") : ("v1/secrets/" + name, null);

        using var response = await SendAsync(new HttpMethod(method), path, body, ifMatch, ifNoneMatch);

        Assert.Equal(status, response.StatusCode);
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/" + name);
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
        Assert.Equal(longer, await RevisionAsync($"v1/secrets/{name}-longer"));
    }

    [Theory]
    [InlineData("v1/secrets/routes/kept/bogus")]
    [InlineData("v1/secrets/routes/kept")]
    [InlineData("v1/secrets/routes/kept/generate/more")]
    public async Task A_post_below_a_secret_that_is_no_route_answers_the_same_with_a_query_as_without(string path)
    {
        var revision = await CreateAsync("routes/kept");

        using var plain = await SendAsync(HttpMethod.Post, path, "{}");
        using var queried = await SendAsync(HttpMethod.Post, path + "?x=1", "{}");

        var problem = await Problems.AssertAsync(plain, HttpStatusCode.NotFound);
        var queriedProblem = await Problems.AssertAsync(queried, HttpStatusCode.NotFound);
        Assert.Equal(problem.GetProperty("detail").GetString(), queriedProblem.GetProperty("detail").GetString());
        Assert.Equal(revision, await RevisionAsync("v1/secrets/routes/kept"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/plain")]
    [InlineData("application/x-www-form-urlencoded")]
    public async Task A_post_below_a_secret_that_is_no_route_is_404_whatever_its_content_type(string? contentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/secrets/routes/typed/frobnicate");
        if (contentType is not null)
        {
            request.Content = new StringContent("x");
            request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(contentType);
        }

        using var response = await Http.SendAsync(request);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.NotFound);
        Assert.Contains("is not a route", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    private async Task<long> CreateAsync(string name)
    {
        using var created = await SendAsync(HttpMethod.Post, "v1/secrets", $$$"""{"name":"{{{name}}}","data":{"k":"v"}}""");
        Assert.True(created.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"creating {name}: {created.StatusCode}");
        return await RevisionAsync("v1/secrets/" + name);
    }

    private async Task<long> RevisionAsync(string path)
    {
        using var read = await SendAsync(HttpMethod.Get, path);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        using var document = JsonDocument.Parse(await read.Content.ReadAsStringAsync());
        return document.RootElement.GetProperty("revision").GetInt64();
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, string? ifMatch = null, string? ifNoneMatch = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, method == HttpMethod.Patch ? "application/merge-patch+json" : "application/json");
        }

        if (ifMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        }

        if (ifNoneMatch is not null)
        {
            request.Headers.TryAddWithoutValidation("If-None-Match", ifNoneMatch);
        }

        return await Http.SendAsync(request);
    }
}
