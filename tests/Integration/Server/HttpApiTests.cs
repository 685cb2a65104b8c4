using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Every route of the HTTP API on a real trousseaud, with the bad inputs a client can send. The tests share one
/// server, each under names of its own; those that rotate the key have a server to themselves.
/// </summary>
public sealed class HttpApiTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private HttpClient _http = fixture.Http;

    [Fact]
    public async Task Create_get_update_delete_follow_the_contract()
    {
        using var created = await SendAsync(HttpMethod.Post, "v1/secrets", """{"name":"api/crud","type":"login","data":{"username":"u","password":"p1"}}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var metadata = await created.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(metadata.TryGetProperty("data", out _));
        var revision = metadata.GetProperty("revision").GetInt64();

        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/api/crud");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal($"\"{revision}\"", read.Headers.ETag?.ToString());
        var secret = await read.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("p1", secret.GetProperty("data").GetProperty("password").GetString());
        Assert.Equal("login", secret.GetProperty("type").GetString());

        using var updated = await SendAsync(HttpMethod.Put, "v1/secrets/api/crud", """{"data":{"username":"u","password":"p2"}}""", ifMatch: revision);
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        using var stale = await SendAsync(HttpMethod.Put, "v1/secrets/api/crud", """{"data":{"username":"u","password":"p3"}}""", ifMatch: revision);
        await Problems.AssertAsync(stale, HttpStatusCode.PreconditionFailed);
        using var staleDelete = await SendAsync(HttpMethod.Delete, "v1/secrets/api/crud", ifMatch: revision);
        await Problems.AssertAsync(staleDelete, HttpStatusCode.PreconditionFailed);
        Assert.Equal("p2", await PasswordAsync("api/crud"));

        using var deleted = await SendAsync(HttpMethod.Delete, "v1/secrets/api/crud");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await SendAsync(HttpMethod.Get, "v1/secrets/api/crud");
        await Problems.AssertAsync(gone, HttpStatusCode.NotFound);
        using var goneAgain = await SendAsync(HttpMethod.Delete, "v1/secrets/api/crud");
        await Problems.AssertAsync(goneAgain, HttpStatusCode.NotFound);
        using var updateGone = await SendAsync(HttpMethod.Put, "v1/secrets/api/crud", """{"data":{"k":"v"}}""");
        await Problems.AssertAsync(updateGone, HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("""{"data":{"k":"v"}}""")]
    [InlineData("""{"type":"opaque","data":{"k":"v"}}""")]
    public async Task A_put_of_a_secret_that_does_not_exist_gets_404_and_creates_nothing_even_naming_a_type(string body)
    {
        using var put = await SendAsync(HttpMethod.Put, "v1/secrets/api/put-absent", body);

        await Problems.AssertAsync(put, HttpStatusCode.NotFound);
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/api/put-absent");
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
    }

    [Fact]
    public async Task An_etag_read_before_a_rewrap_still_updates_and_deletes_while_a_real_change_in_between_gets_412()
    {
        await using var own = await OwnServerAsync();
        using var created = await SendAsync(HttpMethod.Post, "v1/secrets", """{"name":"etag/kept","type":"opaque","data":{"k":"v1"}}""");
        using var other = await SendAsync(HttpMethod.Post, "v1/secrets", """{"name":"etag/other","type":"opaque","data":{"k":"o1"}}""");
        var etag = created.Headers.ETag!.Tag;
        var otherEtag = other.Headers.ETag!.Tag;
        using var rotate = await SendAsync(HttpMethod.Post, "v1/keys/rotate", "{}");
        using var rewrap = await SendAsync(HttpMethod.Post, "v1/keys/rewrap", "{}");
        Assert.Equal(2, (await rewrap.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("rewrapped").GetInt64());

        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/etag/kept");
        using var list = await SendAsync(HttpMethod.Get, "v1/secrets?prefix=etag/");
        Assert.Equal(etag, read.Headers.ETag!.Tag);
        Assert.Equal(etag, $"\"{(await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revision").GetInt64()}\"");
        Assert.Equal(
            [etag, otherEtag],
            (await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().Select(i => $"\"{i.GetProperty("revision").GetInt64()}\""));

        using var updated = await SendAsync(HttpMethod.Put, "v1/secrets/etag/kept", """{"data":{"k":"v2"}}""", ifMatch: Revision(etag));
        Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        var newEtag = updated.Headers.ETag!.Tag;
        Assert.NotEqual(etag, newEtag);
        using var deleted = await SendAsync(HttpMethod.Delete, "v1/secrets/etag/other", ifMatch: Revision(otherEtag));
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);

        using var concurrent = await SendAsync(HttpMethod.Put, "v1/secrets/etag/kept", """{"data":{"k":"v3"}}""");
        using var stale = await SendAsync(HttpMethod.Put, "v1/secrets/etag/kept", """{"data":{"k":"v4"}}""", ifMatch: Revision(newEtag));
        using var staleDelete = await SendAsync(HttpMethod.Delete, "v1/secrets/etag/kept", ifMatch: Revision(newEtag));
        Assert.Equal(HttpStatusCode.OK, concurrent.StatusCode);
        await Problems.AssertAsync(stale, HttpStatusCode.PreconditionFailed);
        await Problems.AssertAsync(staleDelete, HttpStatusCode.PreconditionFailed);
        using var final = await SendAsync(HttpMethod.Get, "v1/secrets/etag/kept");
        Assert.Equal("v3", (await final.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("k").GetString());
    }

    [Fact]
    public async Task Create_of_an_existing_name_is_409_and_keeps_the_first()
    {
        using var first = await SendAsync(HttpMethod.Post, "v1/secrets", """{"name":"api/dup","type":"opaque","data":{"k":"first"}}""");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);

        using var second = await SendAsync(HttpMethod.Post, "v1/secrets", """{"name":"api/dup","type":"opaque","data":{"k":"second"}}""");

        await Problems.AssertAsync(second, HttpStatusCode.Conflict);
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/api/dup");
        Assert.Equal("first", (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("k").GetString());
    }

    [Fact]
    public async Task List_returns_items_under_the_prefix_without_values()
    {
        foreach (var name in new[] { "lst/a", "lst/b", "lstx/c" })
        {
            using var created = await SendAsync(HttpMethod.Post, "v1/secrets", $$$"""{"name":"{{{name}}}","type":"opaque","data":{"k":"value-of-{{{name}}}"}}""");
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        using var list = await SendAsync(HttpMethod.Get, "v1/secrets?prefix=lst/");
        var text = await list.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        using var document = JsonDocument.Parse(text);
        var items = document.RootElement.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["lst/a", "lst/b"], items.Select(i => i.GetProperty("name").GetString()));
        Assert.All(items, i => Assert.False(i.TryGetProperty("data", out _)));
        Assert.DoesNotContain("value-of-", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_pages_follow_limit_and_continue_and_never_hold_values()
    {
        var names = new[] { "pages/a", "pages/b", "pages/c", "pages/d", "pages/e" };
        foreach (var name in names.Reverse())
        {
            using var created = await SendAsync(HttpMethod.Post, "v1/secrets", $$$"""{"name":"{{{name}}}","type":"opaque","data":{"k":"value-of-{{{name}}}"}}""");
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var pages = new List<JsonElement>();
        var texts = new List<string>();
        string? next = null;
        do
        {
            using var page = await SendAsync(HttpMethod.Get, "v1/secrets?prefix=pages/&limit=2" + (next is null ? "" : "&continue=" + Uri.EscapeDataString(next)));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            texts.Add(await page.Content.ReadAsStringAsync());
            using var document = JsonDocument.Parse(texts[^1]);
            var body = document.RootElement.Clone();
            pages.Add(body);
            next = body.TryGetProperty("continue", out var token) ? token.GetString() : null;
        }
        while (next is not null && pages.Count < 10);

        Assert.Equal([2, 2, 1], pages.Select(p => p.GetProperty("items").GetArrayLength()));
        Assert.Equal(names, pages.SelectMany(p => p.GetProperty("items").EnumerateArray()).Select(i => i.GetProperty("name").GetString()));
        Assert.All(
            pages.SelectMany(p => p.GetProperty("items").EnumerateArray()),
            i => Assert.Equal(["name", "type", "revision", "createdAt", "updatedAt"], i.EnumerateObject().Select(p => p.Name)));
        Assert.All(texts, t => Assert.DoesNotContain("value-of-", t, StringComparison.Ordinal));
    }

    [Fact]
    public async Task List_without_a_limit_answers_as_before_when_one_page_holds_everything()
    {
        using var created = await SendAsync(HttpMethod.Post, "v1/secrets", """{"name":"compat/only","type":"opaque","data":{"k":"v"}}""");
        using var list = await SendAsync(HttpMethod.Get, "v1/secrets?prefix=compat/");

        var body = await list.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(["compat/only"], body.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.False(body.TryGetProperty("continue", out _));
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=-1")]
    [InlineData("limit=1001")]
    [InlineData("limit=ten")]
    [InlineData("limit=1.5")]
    [InlineData("limit=99999999999")]
    [InlineData("continue=not-a-token")]
    [InlineData("prefix=other/&continue=AWJhZC9h")]
    public async Task A_bad_limit_or_continuation_token_is_400(string query)
    {
        using var list = await SendAsync(HttpMethod.Get, "v1/secrets?" + query);

        var problem = await Problems.AssertAsync(list, HttpStatusCode.BadRequest);
        Assert.Contains(query.Contains("limit", StringComparison.Ordinal) ? "limit" : "continuation token", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Json_answers_and_clectl_json_write_plus_slash_and_html_characters_as_themselves_with_nosniff()
    {
        const string value = """a+b/c<d>e&f'g"h\i""";
        const string written = """a+b/c<d>e&f'g\"h\\i""";
        using var created = await SendAsync(
            HttpMethod.Post, "v1/secrets", JsonSerializer.Serialize(new { name = "api/escaped", type = "opaque", data = new { k = value } }));
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/api/escaped");
        var raw = await read.Content.ReadAsStringAsync();
        using var absent = await SendAsync(HttpMethod.Get, "v1/secrets/api/absent");
        var problem = await absent.Content.ReadAsStringAsync();
        var clectl = await ClectlRunner.For(fixture.Server, fixture.DataDir, fixture.WorkingDirectory).RunAsync("-o", "json", "secret", "get", "api/escaped");

        Assert.Contains($"\"k\":\"{written}\"", raw, StringComparison.Ordinal);
        Assert.Contains("'api/absent'", problem, StringComparison.Ordinal);
        Assert.All(new[] { read, absent }, r => Assert.Equal("nosniff", Assert.Single(r.Headers.GetValues("X-Content-Type-Options"))));
        ClectlAssert.Ok(clectl);
        Assert.Contains($"\"k\": \"{written}\"", clectl.Stdout, StringComparison.Ordinal);
        Assert.Equal(value, (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("k").GetString());
    }

    [Theory]
    [InlineData("GET", "nothing/here", HttpStatusCode.NotFound)]
    [InlineData("GET", "v1/nothing", HttpStatusCode.NotFound)]
    [InlineData("GET", "v1/keys/rotate", HttpStatusCode.MethodNotAllowed)]
    [InlineData("PUT", "v1/keys", HttpStatusCode.MethodNotAllowed)]
    public async Task Routings_own_404_and_405_answers_carry_nosniff_too(string method, string path, HttpStatusCode status)
    {
        using var response = await SendAsync(new HttpMethod(method), path);

        Assert.Equal(status, response.StatusCode);
        Assert.True(response.Headers.TryGetValues("X-Content-Type-Options", out var values), $"{method} /{path} answered {(int)status} without X-Content-Type-Options");
        Assert.Equal("nosniff", Assert.Single(values));
    }

    [Fact]
    public async Task Generate_creates_a_value_on_the_server_and_returns_metadata_only()
    {
        using var generated = await SendAsync(HttpMethod.Post, "v1/secrets/api/generated/generate", """{"type":"opaque","key":"token","length":40}""");
        var body = await generated.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.Created, generated.StatusCode);
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/api/generated");
        var value = (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("token").GetString()!;
        Assert.Equal(40, value.Length);
        Assert.DoesNotContain(value, body, StringComparison.Ordinal);

        using var again = await SendAsync(HttpMethod.Post, "v1/secrets/api/generated/generate", """{"type":"opaque"}""");
        await Problems.AssertAsync(again, HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("{\"name\":\"bad/json\",\"type\":\"opaque\",\"data\":{\"k\":\"v\"}", "bad/json")]
    [InlineData("{\"name\":\"bad/number\",\"type\":\"opaque\",\"data\":{\"k\":42}}", "bad/number")]
    [InlineData("{\"name\":\"bad/array\",\"type\":\"opaque\",\"data\":[\"k\"]}", "bad/array")]
    [InlineData("{\"name\":\"bad/extra\",\"type\":\"opaque\",\"data\":{\"k\":\"v\"},\"admin\":true}", "bad/extra")]
    [InlineData("{\"name\":\"bad/type\",\"type\":\"certificate\",\"data\":{\"k\":\"v\"}}", "bad/type")]
    [InlineData("{\"name\":\"bad/login\",\"type\":\"login\",\"data\":{\"password\":\"p\"}}", "bad/login")]
    [InlineData("{\"name\":\"bad/nodata\",\"type\":\"opaque\"}", "bad/nodata")]
    [InlineData("{\"name\":\"Bad Name\",\"type\":\"opaque\",\"data\":{\"k\":\"v\"}}", "bad name")]
    [InlineData("{\"name\":\"/lead\",\"type\":\"opaque\",\"data\":{\"k\":\"v\"}}", "lead")]
    [InlineData("null", "null")]
    [InlineData("", "empty")]
    public async Task A_bad_create_body_is_400_problem_json_and_stores_nothing(string body, string label)
    {
        using var response = await SendAsync(HttpMethod.Post, "v1/secrets", body);

        var problem = await Problems.AssertAsync(response, HttpStatusCode.BadRequest);
        Assert.False(string.IsNullOrWhiteSpace(problem.GetProperty("detail").GetString()), label);
        Assert.Empty(await NamesAsync("bad/"));
    }

    [Fact]
    public async Task A_bad_name_in_the_path_is_400()
    {
        using var upper = await SendAsync(HttpMethod.Get, "v1/secrets/Upper/Case");
        using var dots = await SendAsync(HttpMethod.Put, "v1/secrets/ends-with-dot.", """{"data":{"k":"v"}}""");

        await Problems.AssertAsync(upper, HttpStatusCode.BadRequest);
        await Problems.AssertAsync(dots, HttpStatusCode.BadRequest);
    }

    private const string BodyOverTheLimit =
        "The request body is over 4194304 bytes, the limit Trousseau:Api:MaxRequestBodyBytes sets.";

    [Fact]
    public async Task Data_over_one_mebibyte_is_413_and_a_body_over_the_request_limit_too()
    {
        var overData = new string('x', 1024 * 1024 + 1);
        using var tooLarge = await SendAsync(HttpMethod.Post, "v1/secrets", $$$"""{"name":"big/data","type":"opaque","data":{"k":"{{{overData}}}"}}""");
        var hugeBody = new string('y', 5 * 1024 * 1024);
        using var hugeRequest = await SendAsync(HttpMethod.Post, "v1/secrets", $$$"""{"name":"big/body","type":"opaque","data":{"k":"{{{hugeBody}}}"}}""");

        await Problems.AssertAsync(tooLarge, HttpStatusCode.RequestEntityTooLarge);
        var huge = await Problems.AssertAsync(hugeRequest, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(BodyOverTheLimit, huge.GetProperty("detail").GetString());
        Assert.Empty(await NamesAsync("big/"));
    }

    [Fact]
    public async Task A_body_that_is_not_json_is_415()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/secrets")
        {
            Content = new StringContent("""{"name":"ct/x","type":"opaque","data":{"k":"v"}}""", Encoding.UTF8, "text/plain"),
        };
        using var response = await _http.SendAsync(request);

        await Problems.AssertAsync(response, HttpStatusCode.UnsupportedMediaType);
        Assert.Empty(await NamesAsync("ct/"));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("\"1")]
    [InlineData("w/\"1\"")]
    [InlineData("\"a\"b\"")]
    public async Task A_malformed_if_match_is_400_and_changes_nothing(string ifMatch)
    {
        using var created = await SendAsync(HttpMethod.Post, "v1/secrets", """{"name":"im/one","type":"opaque","data":{"k":"v1"}}""");
        Assert.True(created.IsSuccessStatusCode || created.StatusCode == HttpStatusCode.Conflict);

        using var request = new HttpRequestMessage(HttpMethod.Put, "v1/secrets/im/one") { Content = JsonBody.Of("""{"data":{"k":"changed"}}""") };
        request.Headers.TryAddWithoutValidation("If-Match", ifMatch);
        using var response = await _http.SendAsync(request);

        await Problems.AssertAsync(response, HttpStatusCode.BadRequest);
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/im/one");
        Assert.Equal("v1", (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("k").GetString());
    }

    [Fact]
    public async Task Requests_without_a_valid_token_are_401_with_a_challenge()
    {
        using var anonymous = new HttpClient { BaseAddress = fixture.Server.BaseAddress };
        using var none = await anonymous.GetAsync(new Uri("v1/secrets", UriKind.Relative));
        using var wrong = new HttpRequestMessage(HttpMethod.Get, "v1/secrets");
        wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "wrong-token");
        using var wrongResponse = await anonymous.SendAsync(wrong);
        using var basic = new HttpRequestMessage(HttpMethod.Get, "v1/keys");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwYXNz");
        using var basicResponse = await anonymous.SendAsync(basic);

        foreach (var response in new[] { none, wrongResponse, basicResponse })
        {
            await Problems.AssertAsync(response, HttpStatusCode.Unauthorized);
            Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
        }

        using var health = await anonymous.GetAsync(new Uri("readyz", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Readyz_reports_the_key_provider_and_the_store()
    {
        using var response = await _http.GetAsync(new Uri("readyz", UriKind.Relative));
        var report = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var checks = report.GetProperty("checks");
        Assert.Equal("healthy", checks.GetProperty("key-provider").GetProperty("status").GetString());
        Assert.Equal("healthy", checks.GetProperty("store").GetProperty("status").GetString());
    }

    [Fact]
    public async Task Encrypt_and_decrypt_round_trip_with_context_and_refuse_garbage()
    {
        using var encrypted = await SendAsync(HttpMethod.Post, "v1/encrypt", """{"plaintext":"aGVsbG8gd29ybGQ=","context":"dGVuYW50LTE="}""");
        Assert.Equal(HttpStatusCode.OK, encrypted.StatusCode);
        var ciphertext = (await encrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("ciphertext").GetString();

        using var decrypted = await SendAsync(HttpMethod.Post, "v1/decrypt", $$$"""{"ciphertext":"{{{ciphertext}}}","context":"dGVuYW50LTE="}""");
        using var otherContext = await SendAsync(HttpMethod.Post, "v1/decrypt", $$$"""{"ciphertext":"{{{ciphertext}}}","context":"dGVuYW50LTI="}""");
        using var garbage = await SendAsync(HttpMethod.Post, "v1/decrypt", """{"ciphertext":"VFJTAQEFbG9jYWwAAAAAAA=="}""");
        using var notBase64 = await SendAsync(HttpMethod.Post, "v1/decrypt", """{"ciphertext":"%%%"}""");
        using var noPlaintext = await SendAsync(HttpMethod.Post, "v1/encrypt", """{}""");

        Assert.Equal("aGVsbG8gd29ybGQ=", (await decrypted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("plaintext").GetString());
        await Problems.AssertAsync(otherContext, HttpStatusCode.BadRequest);
        await Problems.AssertAsync(garbage, HttpStatusCode.BadRequest);
        await Problems.AssertAsync(notBase64, HttpStatusCode.BadRequest);
        await Problems.AssertAsync(noPlaintext, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Key_routes_report_rotate_and_rewrap()
    {
        await using var own = await OwnServerAsync();
        using var created = await SendAsync(HttpMethod.Post, "v1/secrets", """{"name":"keys/one","type":"opaque","data":{"k":"v"}}""");
        using var status = await SendAsync(HttpMethod.Get, "v1/keys");
        var before = await status.Content.ReadFromJsonAsync<JsonElement>();
        using var rotate = await SendAsync(HttpMethod.Post, "v1/keys/rotate", "{}");
        var after = await rotate.Content.ReadFromJsonAsync<JsonElement>();
        using var rewrap = await SendAsync(HttpMethod.Post, "v1/keys/rewrap", "{}");

        Assert.Equal("local", before.GetProperty("provider").GetString());
        Assert.NotEqual(before.GetProperty("keyId").GetString(), after.GetProperty("keyId").GetString());
        var rewrapped = await rewrap.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(1, rewrapped.GetProperty("rewrapped").GetInt64());
        Assert.Equal(after.GetProperty("keyId").GetString(), rewrapped.TryGetProperty("keyId", out var keyId) ? keyId.GetString() : null);
    }

    /// <summary>
    /// Starts a trousseaud for this test alone (a key rotation changes what every other test sees) and points
    /// <see cref="SendAsync"/> at it until the returned server is disposed.
    /// </summary>
    private async Task<OwnServer> OwnServerAsync()
    {
        var temp = new TempDirectory();
        var server = await TrousseauServerProcess.StartAsync(temp.Combine("data"));
        var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, temp.Combine("data", "api.token"));
        var shared = _http;
        _http = http;
        return new OwnServer(async () =>
        {
            _http = shared;
            http.Dispose();
            await server.DisposeAsync();
            temp.Dispose();
        });
    }

    private sealed class OwnServer(Func<Task> dispose) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync() => await dispose();
    }

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string? body = null, long? ifMatch = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            request.Content = JsonBody.Of(body);
        }

        if (ifMatch is { } revision)
        {
            request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{revision}\""));
        }

        return await _http.SendAsync(request);
    }

    private static long Revision(string etag) => long.Parse(etag.Trim('"'), System.Globalization.CultureInfo.InvariantCulture);


    private async Task<string> PasswordAsync(string name)
    {
        using var read = await SendAsync(HttpMethod.Get, "v1/secrets/" + name);
        return (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").GetProperty("password").GetString()!;
    }

    private async Task<List<string>> NamesAsync(string prefix)
    {
        using var list = await SendAsync(HttpMethod.Get, "v1/secrets?prefix=" + Uri.EscapeDataString(prefix));
        return (await list.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToList();
    }
}
