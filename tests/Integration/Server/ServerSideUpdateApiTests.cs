using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// <c>PATCH /v1/secrets/{name}</c> (a JSON merge patch of the data) and <c>POST /v1/secrets/{name}/regenerate</c> on a
/// real trousseaud: the server merges and makes values itself, so a value it generated never has to leave it.
/// </summary>
public sealed class ServerSideUpdateApiTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>
{
    private const string MergePatch = "application/merge-patch+json";

    private readonly HttpClient _http = fixture.Http;

    [Fact]
    public async Task A_merge_patch_sets_changes_and_removes_keys_and_keeps_the_others()
    {
        var revision = await CreateAsync("patch/basic", """{"host":"db","port":"5432","user":"app","old":"x"}""");

        using var patched = await PatchAsync("patch/basic", """{"data":{"port":"6432","mode":"tls","old":null}}""");

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var metadata = await patched.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(metadata.TryGetProperty("data", out _));
        Assert.Equal("patch/basic", metadata.GetProperty("name").GetString());
        var newRevision = metadata.GetProperty("revision").GetInt64();
        Assert.True(newRevision > revision);
        Assert.Equal($"\"{newRevision}\"", patched.Headers.ETag?.Tag);
        Assert.Equal(
            new Dictionary<string, string> { ["host"] = "db", ["port"] = "6432", ["user"] = "app", ["mode"] = "tls" },
            await DataAsync("patch/basic"));
    }

    [Fact]
    public async Task A_patch_removing_keys_the_secret_does_not_hold_names_them_in_its_answer()
    {
        await CreateAsync("patch/absent-keys", """{"k":"v","old":"x","older":"y"}""");

        using var partly = await PatchAsync("patch/absent-keys", """{"data":{"old":null,"gone":null,"k":"v2","olde":null}}""");
        using var present = await PatchAsync("patch/absent-keys", """{"data":{"older":null}}""");

        Assert.Equal(HttpStatusCode.OK, partly.StatusCode);
        Assert.Equal(["gone, olde"], partly.Headers.GetValues("Trousseau-Absent-Keys"));
        Assert.Equal(HttpStatusCode.OK, present.StatusCode);
        Assert.False(present.Headers.Contains("Trousseau-Absent-Keys"));
        Assert.Equal(new Dictionary<string, string> { ["k"] = "v2" }, await DataAsync("patch/absent-keys"));
    }

    [Fact]
    public async Task A_patch_with_if_match_applies_at_that_revision_and_gets_412_after_a_change()
    {
        var revision = await CreateAsync("patch/cas", """{"k":"v1"}""");

        using var applied = await PatchAsync("patch/cas", """{"data":{"k":"v2"}}""", ifMatch: revision);
        using var stale = await PatchAsync("patch/cas", """{"data":{"k":"v3"}}""", ifMatch: revision);

        Assert.Equal(HttpStatusCode.OK, applied.StatusCode);
        var problem = await Problems.AssertAsync(stale, HttpStatusCode.PreconditionFailed);
        Assert.Equal("urn:trousseau:problem:revision-mismatch", problem.GetProperty("type").GetString());
        Assert.Equal("v2", (await DataAsync("patch/cas"))["k"]);
    }

    [Theory]
    [InlineData("""{"data":{"absent":null}}""")]
    [InlineData("""{"data":{"k":"v1"}}""")]
    [InlineData("""{"data":{"k":"v1","absent":null}}""")]
    public async Task A_patch_that_changes_no_value_writes_nothing_and_keeps_the_revision(string patch)
    {
        var name = $"patch/noop-{Guid.NewGuid():N}";
        var revision = await CreateAsync(name, """{"k":"v1"}""");
        using var before = await _http.GetAsync(new Uri("v1/secrets/" + name, UriKind.Relative));
        var updatedAt = (await before.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("updatedAt").GetString();

        using var patched = await PatchAsync(name, patch, ifMatch: revision);

        Assert.Equal(HttpStatusCode.OK, patched.StatusCode);
        var metadata = await patched.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(revision, metadata.GetProperty("revision").GetInt64());
        Assert.Equal(updatedAt, metadata.GetProperty("updatedAt").GetString());
        Assert.Equal($"\"{revision}\"", patched.Headers.ETag?.Tag);
        using var after = await _http.GetAsync(new Uri("v1/secrets/" + name, UriKind.Relative));
        var read = await after.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(revision, read.GetProperty("revision").GetInt64());
        Assert.Equal(updatedAt, read.GetProperty("updatedAt").GetString());
        Assert.Equal(new Dictionary<string, string> { ["k"] = "v1" }, await DataAsync(name));
    }

    [Fact]
    public async Task Patching_a_secret_that_does_not_exist_gets_404_and_creates_nothing()
    {
        using var missing = await PatchAsync("patch/absent", """{"data":{"k":"v"}}""");

        await Problems.AssertAsync(missing, HttpStatusCode.NotFound);
        using var read = await _http.GetAsync(new Uri("v1/secrets/patch/absent", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, read.StatusCode);
    }

    [Fact]
    public async Task A_login_secret_keeps_its_username_and_password_and_a_bad_patch_changes_nothing()
    {
        var revision = await CreateAsync("patch/login", """{"username":"app","password":"first-pass"}""", type: "login");

        using var endpoint = await PatchAsync("patch/login", """{"data":{"endpoint":"postgres://db:5432"}}""");
        Assert.Equal(HttpStatusCode.OK, endpoint.StatusCode);
        var afterEndpoint = (await endpoint.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revision").GetInt64();

        using var noPassword = await PatchAsync("patch/login", """{"data":{"password":null}}""");
        using var otherKey = await PatchAsync("patch/login", """{"data":{"pin":"1234"}}""");
        using var wholeData = await PatchAsync("patch/login", """{"data":null}""");
        using var numberValue = await PatchAsync("patch/login", """{"data":{"endpoint":5}}""");
        using var nothing = await PatchAsync("patch/login", """{"data":{}}""");
        using var plainJson = await PatchAsync("patch/login", """{"data":{"endpoint":"x"}}""", contentType: "application/json");

        Assert.Contains("'password'", (await Problems.AssertAsync(noPassword, HttpStatusCode.BadRequest)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("'pin'", (await Problems.AssertAsync(otherKey, HttpStatusCode.BadRequest)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        await Problems.AssertAsync(wholeData, HttpStatusCode.BadRequest);
        await Problems.AssertAsync(numberValue, HttpStatusCode.BadRequest);
        await Problems.AssertAsync(nothing, HttpStatusCode.BadRequest);
        Assert.Contains(MergePatch, (await Problems.AssertAsync(plainJson, HttpStatusCode.UnsupportedMediaType)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.True(afterEndpoint > revision);
        Assert.Equal(afterEndpoint, await RevisionAsync("patch/login"));
        Assert.Equal(
            new Dictionary<string, string> { ["username"] = "app", ["password"] = "first-pass", ["endpoint"] = "postgres://db:5432" },
            await DataAsync("patch/login"));
    }

    [Fact]
    public async Task A_patch_that_would_remove_every_key_is_400_naming_data_and_changes_nothing()
    {
        var revision = await CreateAsync("patch/every-key", """{"a":"1","b":"2"}""");

        using var emptied = await PatchAsync("patch/every-key", """{"data":{"a":null,"b":null,"absent":null}}""");

        var problem = await Problems.AssertInvalidInputAsync(emptied, HttpStatusCode.BadRequest);
        Assert.Equal(
            "A secret holds at least one data key; 'data' is empty (delete the secret to remove every key).",
            problem.GetProperty("detail").GetString());
        Assert.Equal(revision, await RevisionAsync("patch/every-key"));
        Assert.Equal(new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }, await DataAsync("patch/every-key"));
    }

    [Fact]
    public async Task A_patch_that_would_make_the_data_larger_than_1_MiB_gets_413()
    {
        await CreateAsync("patch/big", """{"a":"small"}""");
        var half = new string('x', 600 * 1024);

        using var first = await PatchAsync("patch/big", $$$"""{"data":{"b":"{{{half}}}"}}""");
        using var second = await PatchAsync("patch/big", $$$"""{"data":{"c":"{{{half}}}"}}""");

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        await Problems.AssertAsync(second, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal(["a", "b"], (await DataAsync("patch/big")).Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Regenerate_makes_a_new_login_password_on_the_server_and_answers_metadata_only()
    {
        using var generated = await PostAsync("v1/secrets/regen/login/generate", """{"type":"login","username":"orders","endpoint":"postgres://db"}""");
        Assert.Equal(HttpStatusCode.Created, generated.StatusCode);
        var before = await DataAsync("regen/login");

        using var regenerated = await PostAsync("v1/secrets/regen/login/regenerate", "{}");

        Assert.Equal(HttpStatusCode.OK, regenerated.StatusCode);
        var body = await regenerated.Content.ReadAsStringAsync();
        var after = await DataAsync("regen/login");
        Assert.NotEqual(before["password"], after["password"]);
        Assert.Equal(SecretGenerationOptions.DefaultLength, after["password"].Length);
        Assert.Equal(before["username"], after["username"]);
        Assert.Equal(before["endpoint"], after["endpoint"]);
        Assert.DoesNotContain(after["password"], body, StringComparison.Ordinal);
        var metadata = await regenerated.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(metadata.TryGetProperty("data", out _));
        Assert.Equal("regen/login", metadata.GetProperty("name").GetString());
        Assert.Equal($"\"{metadata.GetProperty("revision").GetInt64()}\"", regenerated.Headers.ETag?.Tag);
    }

    [Fact]
    public async Task Regenerate_picks_the_only_key_of_an_opaque_secret_and_asks_which_one_when_there_are_several()
    {
        await CreateAsync("regen/one", """{"api-key":"typed-by-a-person"}""");
        await CreateAsync("regen/two", """{"id":"client-7","secret":"typed-by-a-person"}""");
        var twoRevision = await RevisionAsync("regen/two");

        using var one = await PostAsync("v1/secrets/regen/one/regenerate", """{"length":48}""");
        using var ambiguous = await PostAsync("v1/secrets/regen/two/regenerate", "{}");
        using var unknownKey = await PostAsync("v1/secrets/regen/two/regenerate", """{"key":"secert"}""");
        using var chosen = await PostAsync("v1/secrets/regen/two/regenerate", """{"key":"secret","length":20}""");

        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        var oneValue = (await DataAsync("regen/one"))["api-key"];
        Assert.NotEqual("typed-by-a-person", oneValue);
        Assert.Equal(48, oneValue.Length);
        var detail = (await Problems.AssertAsync(ambiguous, HttpStatusCode.BadRequest)).GetProperty("detail").GetString();
        Assert.Contains("'id'", detail, StringComparison.Ordinal);
        Assert.Contains("'secret'", detail, StringComparison.Ordinal);
        Assert.Contains("'secert'", (await Problems.AssertAsync(unknownKey, HttpStatusCode.BadRequest)).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, chosen.StatusCode);
        var two = await DataAsync("regen/two");
        Assert.Equal("client-7", two["id"]);
        Assert.NotEqual("typed-by-a-person", two["secret"]);
        Assert.Equal(20, two["secret"].Length);
        Assert.True(await RevisionAsync("regen/two") > twoRevision);
    }

    [Fact]
    public async Task Regenerate_honours_if_match_and_answers_404_for_a_missing_secret()
    {
        var revision = await CreateAsync("regen/cas", """{"value":"v"}""");

        using var applied = await PostAsync("v1/secrets/regen/cas/regenerate", "{}", ifMatch: revision);
        var value = (await DataAsync("regen/cas"))["value"];
        using var stale = await PostAsync("v1/secrets/regen/cas/regenerate", "{}", ifMatch: revision);
        using var missing = await PostAsync("v1/secrets/regen/absent/regenerate", "{}");
        using var badLength = await PostAsync("v1/secrets/regen/cas/regenerate", """{"length":0}""");

        Assert.Equal(HttpStatusCode.OK, applied.StatusCode);
        await Problems.AssertAsync(stale, HttpStatusCode.PreconditionFailed);
        await Problems.AssertAsync(missing, HttpStatusCode.NotFound);
        await Problems.AssertAsync(badLength, HttpStatusCode.BadRequest);
        Assert.Equal(value, (await DataAsync("regen/cas"))["value"]);
    }

    private async Task<long> CreateAsync(string name, string data, string type = "opaque")
    {
        using var created = await PostAsync("v1/secrets", $$"""{"name":"{{name}}","type":"{{type}}","data":{{data}}}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revision").GetInt64();
    }

    private Task<HttpResponseMessage> PatchAsync(string name, string body, long? ifMatch = null, string contentType = MergePatch) =>
        SendAsync(HttpMethod.Patch, "v1/secrets/" + name, body, contentType, ifMatch);

    private Task<HttpResponseMessage> PostAsync(string path, string body, long? ifMatch = null) =>
        SendAsync(HttpMethod.Post, path, body, "application/json", ifMatch);

    private async Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, string body, string contentType, long? ifMatch)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative))
        {
            Content = new StringContent(body, Encoding.UTF8, contentType),
        };
        if (ifMatch is { } revision)
        {
            request.Headers.IfMatch.Add(new EntityTagHeaderValue($"\"{revision}\""));
        }

        return await _http.SendAsync(request);
    }

    private async Task<Dictionary<string, string>> DataAsync(string name)
    {
        using var read = await _http.GetAsync(new Uri("v1/secrets/" + name, UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        return (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("data").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
    }

    private async Task<long> RevisionAsync(string name)
    {
        using var read = await _http.GetAsync(new Uri("v1/secrets/" + name, UriKind.Relative));
        return (await read.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("revision").GetInt64();
    }
}
