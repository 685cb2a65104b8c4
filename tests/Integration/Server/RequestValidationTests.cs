using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// The API holds names, bodies and framing to its documented rules: what it refuses is a 400 (or 415) problem, and
/// a refused request never acts on another secret.
/// </summary>
public sealed class RequestValidationTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private const string EmptyDataDetail = "A secret holds at least one data key; 'data' is empty (delete the secret to remove every key).";

    private const string EmptyEndpointDetail = "A login secret's 'endpoint' is empty or only white space; leave it out when there is none.";

    private HttpClient Http => fixture.Http;

    public static TheoryData<string, string> DotSegmentRequests => new()
    {
        { "GET", "dots/x/../target" },
        { "GET", "dots/x/%2e%2e/target" },
        { "GET", "dots/x/%2E./target" },
        { "GET", "dots/./target" },
        { "GET", "dots/%2e/target" },
        { "GET", "dots//target" },
        { "GET", "dots%2Fx%2F..%2Ftarget" },
        { "PUT", "dots/x/../target" },
        { "PUT", "dots/x/%2e%2e/target" },
        { "DELETE", "dots/x/../target" },
        { "DELETE", "dots/x/%2e%2e/target" },
        { "DELETE", "dots/./target" },
        { "POST", "dots/x/../made/generate" },
        { "POST", "dots/x/%2e%2e/made/generate" },
    };

    public static TheoryData<string, string> MalformedChunkedBodies
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (var route in new[] { "POST v1/secrets", "PUT v1/secrets/chunked/target", "POST v1/secrets/chunked/made/generate", "POST v1/encrypt", "POST v1/decrypt" })
            {
                foreach (var framing in new[] { "80000000", "ffffffffffffffff", "zz", "1\r\n{}" })
                {
                    data.Add(route, framing);
                }
            }

            return data;
        }
    }

    [Fact]
    public async Task A_name_with_dot_dot_in_the_body_is_refused_and_creates_nothing()
    {
        await EnsureAsync("repro/prod/db", "prod-value");

        using var created = await SendAsync(HttpMethod.Post, "v1/secrets", """{"name":"repro/tmp/../prod/db","type":"opaque","data":{"k":"tmp-value"}}""");

        await Problems.AssertInvalidInputAsync(created, HttpStatusCode.BadRequest);
        Assert.Equal(["repro/prod/db"], await NamesAsync("repro/"));
        Assert.Equal("prod-value", await ValueAsync("repro/prod/db"));
    }

    [Theory]
    [InlineData("body/./db")]
    [InlineData("body//db")]
    [InlineData("body/a/../b")]
    public async Task A_name_with_a_dot_or_empty_segment_in_the_body_is_400_and_creates_nothing(string name)
    {
        using var created = await SendAsync(HttpMethod.Post, "v1/secrets", $$$"""{"name":"{{{name}}}","type":"opaque","data":{"k":"v"}}""");

        await Problems.AssertInvalidInputAsync(created, HttpStatusCode.BadRequest);
        Assert.Empty(await NamesAsync("body/"));
    }

    [Theory]
    [MemberData(nameof(DotSegmentRequests))]
    public async Task A_dot_or_empty_segment_in_the_url_is_400_and_touches_no_other_secret(string method, string path)
    {
        var revision = await EnsureAsync("dots/target", "original");
        using var request = new HttpRequestMessage(new HttpMethod(method), fixture.RawUri("v1/secrets/" + path));
        request.Content = method switch
        {
            "PUT" => JsonBody.Of("""{"data":{"k":"changed"}}"""),
            "POST" => JsonBody.Of("""{"type":"opaque"}"""),
            _ => null,
        };

        using var response = await Http.SendAsync(request);

        await Problems.AssertInvalidInputAsync(response, HttpStatusCode.BadRequest);
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/dots/target");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        var secret = await read.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(revision, secret.GetProperty("revision").GetInt64());
        Assert.Equal("original", secret.GetProperty("data").GetProperty("k").GetString());
        Assert.Equal(["dots/target"], await NamesAsync("dots/"));
    }

    [Fact]
    public async Task Clectl_refuses_a_name_with_dot_dot_with_exit_code_2_and_touches_no_other_secret()
    {
        await EnsureAsync("cli/prod/db", "prod-value");
        var clectl = ClectlRunner.For(fixture.Server, fixture.DataDir, fixture.WorkingDirectory);

        var results = new[]
        {
            await clectl.RunAsync("secret", "delete", "cli/tmp/../prod/db"),
            await clectl.RunAsync("secret", "get", "cli/tmp/../prod/db"),
            await clectl.RunAsync("secret", "update", "cli/tmp/../prod/db", "--from-literal", "k=changed"),
            await clectl.RunAsync("secret", "create", "cli/tmp/../new", "--from-literal", "k=v"),
            await clectl.RunAsync("secret", "generate", "cli//new"),
        };

        Assert.All(results, r =>
        {
            Assert.Equal(2, r.ExitCode);
            Assert.Contains("Invalid secret name", r.Stderr, StringComparison.Ordinal);
            Assert.Empty(r.Stdout);
        });
        Assert.Equal(["cli/prod/db"], await NamesAsync("cli/"));
        Assert.Equal("prod-value", await ValueAsync("cli/prod/db"));
    }

    [Theory]
    [InlineData("""{"name":"strict/a","name":"strict/b","type":"opaque","data":{"k":"v"}}""")]
    [InlineData("""{"name":"strict/c","type":"opaque","data":{"k":"v"},"data":{"k":"w"}}""")]
    [InlineData("""{"name":"strict/d","type":"opaque","data":{"k":"v","k":"w"}}""")]
    [InlineData("""{"Name":"strict/e","type":"opaque","data":{"k":"v"}}""")]
    [InlineData("""{"name":"strict/f","TYPE":"opaque","data":{"k":"v"}}""")]
    [InlineData("""{"name":"strict/g","type":"opaque","data":{"k":"v"},"extra":true}""")]
    [InlineData("""{"name":"strict/h","type":1,"data":{"k":"v"}}""")]
    public async Task A_create_body_with_a_duplicate_misspelt_unknown_or_mistyped_field_is_400_and_creates_nothing(string body)
    {
        using var response = await SendAsync(HttpMethod.Post, "v1/secrets", body);

        await Problems.AssertInvalidInputAsync(response, HttpStatusCode.BadRequest);
        Assert.Empty(await NamesAsync("strict/"));
    }

    [Theory]
    [InlineData("PUT", "v1/secrets/strict-other/put", """{"Data":{"k":"v"}}""")]
    [InlineData("PUT", "v1/secrets/strict-other/put", """{"data":{"k":"v"},"type":"login","type":"opaque"}""")]
    [InlineData("POST", "v1/secrets/strict-other/made/generate", """{"type":"opaque","length":"12"}""")]
    [InlineData("POST", "v1/secrets/strict-other/made/generate", """{"type":"opaque","Length":12}""")]
    [InlineData("POST", "v1/secrets/strict-other/made/generate", """{"type":"opaque","length":12,"length":13}""")]
    [InlineData("POST", "v1/encrypt", """{"Plaintext":"aGk="}""")]
    [InlineData("POST", "v1/encrypt", """{"plaintext":"aGk=","plaintext":"aGk="}""")]
    public async Task Other_json_routes_refuse_duplicate_misspelt_and_mistyped_fields_with_400(string method, string path, string body)
    {
        await EnsureAsync("strict-other/put", "original");

        using var response = await SendAsync(new HttpMethod(method), path, body);

        await Problems.AssertInvalidInputAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(["strict-other/put"], await NamesAsync("strict-other/"));
        Assert.Equal("original", await ValueAsync("strict-other/put"));
    }

    [Theory]
    [InlineData("POST", "v1/secrets", """{"name":"empty-data/new","type":"opaque","data":{}}""")]
    [InlineData("POST", "v1/secrets", """{"name":"empty-data/new","data":{}}""")]
    [InlineData("PUT", "v1/secrets/empty-data/kept", """{"data":{}}""")]
    [InlineData("PUT", "v1/secrets/empty-data/kept", """{"type":"opaque","data":{}}""")]
    public async Task A_create_or_put_with_empty_data_is_400_naming_data_and_changes_nothing(string method, string path, string body)
    {
        var revision = await EnsureAsync("empty-data/kept", "original");

        using var response = await SendAsync(new HttpMethod(method), path, body);

        var problem = await Problems.AssertInvalidInputAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(EmptyDataDetail, problem.GetProperty("detail").GetString());
        Assert.Equal(["empty-data/kept"], await NamesAsync("empty-data/"));
        Assert.Equal(revision, await EnsureAsync("empty-data/kept", "original"));
        Assert.Equal("original", await ValueAsync("empty-data/kept"));
    }

    [Theory]
    [InlineData("v1/secrets/endpoint/made/generate", """{"type":"login","username":"u","endpoint":""}""")]
    [InlineData("v1/secrets/endpoint/made/generate", """{"type":"login","username":"u","endpoint":" \t "}""")]
    [InlineData("v1/secrets", """{"name":"endpoint/given","type":"login","data":{"username":"u","password":"p","endpoint":""}}""")]
    [InlineData("v1/secrets", """{"name":"endpoint/given","type":"login","data":{"username":"u","password":"p","endpoint":"   "}}""")]
    public async Task A_login_secret_with_an_empty_or_blank_endpoint_is_400_naming_it_whether_generated_or_given(string path, string body)
    {
        using var response = await SendAsync(HttpMethod.Post, path, body);

        var problem = await Problems.AssertInvalidInputAsync(response, HttpStatusCode.BadRequest);
        Assert.Equal(EmptyEndpointDetail, problem.GetProperty("detail").GetString());
        Assert.Empty(await NamesAsync("endpoint/"));
    }

    [Theory]
    [InlineData("application/jsonp")]
    [InlineData("application/json; charset=utf-16")]
    [InlineData("application/json; charset=iso-8859-1")]
    [InlineData("application/json; version=2")]
    [InlineData("application/json-seq")]
    [InlineData("text/json")]
    [InlineData("application/x-www-form-urlencoded")]
    [InlineData(null)]
    public async Task A_body_that_is_not_utf8_application_json_is_415_and_creates_nothing(string? contentType)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/secrets")
        {
            Content = new ByteArrayContent("""{"name":"media/x","type":"opaque","data":{"k":"v"}}"""u8.ToArray()),
        };
        if (contentType is not null)
        {
            request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        }

        using var response = await Http.SendAsync(request);

        await Problems.AssertInvalidInputAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Empty(await NamesAsync("media/"));
    }

    [Theory]
    [InlineData("application/json", "media-ok/a")]
    [InlineData("application/json; charset=utf-8", "media-ok/b")]
    [InlineData("Application/JSON;charset=\"UTF-8\"", "media-ok/c")]
    public async Task Application_json_in_utf8_is_accepted(string contentType, string name)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/secrets")
        {
            Content = new ByteArrayContent(Encoding.UTF8.GetBytes($$$"""{"name":"{{{name}}}","type":"opaque","data":{"k":"v"}}""")),
        };
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);

        using var response = await Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
    }

    [Theory]
    [MemberData(nameof(MalformedChunkedBodies))]
    public async Task A_malformed_chunked_body_is_a_400_problem_never_a_500(string route, string framing)
    {
        await EnsureAsync("chunked/target", "original");
        var (method, path) = (route.Split(' ')[0], route.Split(' ')[1]);

        var (status, contentType, body) = await fixture.Server.SendRawAsync(
            $"{method} /{path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {fixture.Token}\r\n"
            + $"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{framing}\r\n{{\"name\":\"x\"");

        Assert.Equal(400, status);
        Assert.Equal("application/problem+json", contentType);
        Assert.Contains(Problems.InvalidInput, body, StringComparison.Ordinal);
        Assert.DoesNotContain(" at ", body, StringComparison.Ordinal);
        Assert.Equal(["chunked/target"], await NamesAsync("chunked/"));
        Assert.Equal("original", await ValueAsync("chunked/target"));
    }


    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonBody.Of(body);
        }

        return await Http.SendAsync(request);
    }

    /// <summary>Creates an opaque secret <c>{"k": value}</c> unless it exists; returns its revision.</summary>
    private async Task<long> EnsureAsync(string name, string value)
    {
        using var created = await SendAsync(HttpMethod.Post, "v1/secrets", $$$"""{"name":"{{{name}}}","type":"opaque","data":{"k":"{{{value}}}"}}""");
        Assert.True(created.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, $"creating {name}: {created.StatusCode}");
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/" + name);
        return (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revision").GetInt64();
    }

    private async Task<string?> ValueAsync(string name)
    {
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/" + name);
        return (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("k").GetString();
    }

    private async Task<List<string>> NamesAsync(string prefix)
    {
        using var list = await SendAsync(HttpMethod.Get, "v1/secrets?prefix=" + Uri.EscapeDataString(prefix));
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        return (await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToList();
    }
}
