using System.Net;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// <c>Trousseau:Api:Policies</c> as trousseaud reads it at start: a policy it cannot apply stops the start with exit 2
/// and one line naming the item and the value; a valid one applies to the token mode's <c>admin</c> too.
/// </summary>
public sealed class ApiPolicySettingsTests : IDisposable
{
    private const string Policy = "--Trousseau:Api:Policies:0:";
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData(new[] { "Subjects:0=admin", "Secrets:0=**", "Actions:0=read", "Actions:1=raed" }, "Trousseau:Api:Policies:0:Actions:1 is 'raed', which is not an action; use read, list, create, update, delete, generate, keys, encrypt, decrypt")]
    [InlineData(new[] { "Secrets:0=**", "Actions:0=read" }, "Trousseau:Api:Policies:0:Subjects is empty")]
    [InlineData(new[] { "Subjects:0=admin", "Secrets:0=**" }, "Trousseau:Api:Policies:0:Actions is empty")]
    [InlineData(new[] { "Subjects:0=admin", "Actions:0=keys", "Actions:1=Update" }, "Trousseau:Api:Policies:0:Secrets is empty, but Trousseau:Api:Policies:0:Actions holds 'update', which acts on secrets")]
    [InlineData(new[] { "Subjects:0=admin", "Secrets:0=Payments/*", "Actions:0=read" }, "Trousseau:Api:Policies:0:Secrets:0 is 'Payments/*', which is not a secret name glob: it holds a character no secret name has")]
    [InlineData(new[] { "Subjects:0=admin", "Secrets:0=db/***", "Actions:0=read" }, "Trousseau:Api:Policies:0:Secrets:0 is 'db/***', which is not a secret name glob: it holds '***'")]
    [InlineData(new[] { "Subjects:0= ", "Secrets:0=**", "Actions:0=read" }, "Trousseau:Api:Policies:0:Subjects:0 is ' ', which is not an identity glob: it is only white space")]
    public async Task A_policy_trousseaud_cannot_apply_stops_the_start_with_exit_2_naming_the_item_and_the_value(string[] settings, string explanation)
    {
        var result = await ChildProcess.RunAsync(DotnetProcess.StartInfo(
            RepositoryPaths.Server,
            ["--urls", $"http://127.0.0.1:{FreePort.Next()}", "--data-dir", _temp.Combine("data"), .. settings.Select(s => Policy + s)],
            _temp.Path));

        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(explanation, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Policies_apply_to_the_api_token_and_actions_on_no_secret_need_no_secret_globs()
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, [$"{Policy}Subjects:0=adm?n", $"{Policy}Actions:0=KEYS"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        using var keys = await http.GetAsync(new Uri("v1/keys", UriKind.Relative));
        using var list = await http.GetAsync(new Uri("v1/secrets", UriKind.Relative));
        using var whoami = await http.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));
        using var headKeys = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/keys"));
        using var headList = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, "v1/secrets"));
        using var rotate = await http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), EmptyJson());
        using var rewrap = await http.PostAsync(new Uri("v1/keys/rewrap", UriKind.Relative), EmptyJson());

        Assert.Equal(HttpStatusCode.OK, keys.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        Assert.Equal(HttpStatusCode.OK, rewrap.StatusCode);
        Assert.Equal(HttpStatusCode.OK, headKeys.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, headList.StatusCode);
        var refused = await Problems.AssertAsync(list, HttpStatusCode.Forbidden);
        Assert.Contains("The identity 'admin' may not do 'list' on any secret", refused.GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var body = JsonDocument.Parse(await whoami.Content.ReadAsStringAsync());
        Assert.Equal("admin", body.RootElement.GetProperty("identity").GetString());
        Assert.Equal(["keys"], body.RootElement.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));
        Assert.Empty(Assert.Single(body.RootElement.GetProperty("policies").EnumerateArray()).GetProperty("secrets").EnumerateArray());
    }

    [Fact]
    public async Task Key_status_rotation_and_rewrap_need_keys_and_a_patch_needs_update_not_read()
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir, [$"{Policy}Subjects:0=admin", $"{Policy}Secrets:0=**", $"{Policy}Actions:0=create", $"{Policy}Actions:1=read", $"{Policy}Actions:2=list"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var created = await CreateAsync(http, "team/app");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        using var patch = await http.PatchAsync(
            new Uri("v1/secrets/team/app", UriKind.Relative),
            new StringContent("""{"data":{"k":"patched"}}""", System.Text.Encoding.UTF8, "application/merge-patch+json"));
        using var keys = await http.GetAsync(new Uri("v1/keys", UriKind.Relative));
        using var rotate = await http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), EmptyJson());
        using var rewrap = await http.PostAsync(new Uri("v1/keys/rewrap", UriKind.Relative), EmptyJson());

        var patchDetail = (await Problems.AssertAsync(patch, HttpStatusCode.Forbidden)).GetProperty("detail").GetString();
        Assert.Equal("The identity 'admin' may not do 'update' on the secret 'team/app': no entry of Trousseau:Api:Policies allows it.", patchDetail);
        foreach (var refused in new[] { keys, rotate, rewrap })
        {
            var detail = (await Problems.AssertAsync(refused, HttpStatusCode.Forbidden)).GetProperty("detail").GetString();
            Assert.Equal("The identity 'admin' may not do 'keys': no entry of Trousseau:Api:Policies allows it.", detail);
        }

        using var read = await http.GetAsync(new Uri("v1/secrets/team/app", UriKind.Relative));
        using var secret = JsonDocument.Parse(await read.Content.ReadAsStringAsync());
        Assert.Equal("v", secret.RootElement.GetProperty("data").GetProperty("k").GetString());
    }

    [Fact]
    public async Task Globs_match_whole_names_and_identities_case_sensitively_and_neither_a_star_nor_a_question_mark_crosses_a_slash()
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir,
            [$"{Policy}Subjects:0=admin", $"{Policy}Secrets:0=**", $"{Policy}Actions:0=create",
             "--Trousseau:Api:Policies:1:Subjects:0=admin", "--Trousseau:Api:Policies:1:Secrets:0=team/**", "--Trousseau:Api:Policies:1:Secrets:1=db?x",
             "--Trousseau:Api:Policies:1:Secrets:2=app/*", "--Trousseau:Api:Policies:1:Actions:0=read",
             "--Trousseau:Api:Policies:2:Subjects:0=ADMIN", "--Trousseau:Api:Policies:2:Subjects:1=dmin", "--Trousseau:Api:Policies:2:Subjects:2=adm",
             "--Trousseau:Api:Policies:2:Secrets:0=**", "--Trousseau:Api:Policies:2:Actions:0=delete"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        string[] readable = ["team/app", "team/eu/web", "dbax", "app/web"];
        string[] unreadable = ["old/team/app", "db/x", "app/eu/web", "app/web-old/x"];
        foreach (var name in readable.Concat(unreadable))
        {
            using var created = await CreateAsync(http, name);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        foreach (var name in readable)
        {
            using var read = await http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
            Assert.True(read.StatusCode == HttpStatusCode.OK, $"{name}: {(int)read.StatusCode}");
        }

        foreach (var name in unreadable)
        {
            using var read = await http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
            Assert.True(read.StatusCode == HttpStatusCode.Forbidden, $"{name}: {(int)read.StatusCode}");
        }

        using var delete = await http.DeleteAsync(new Uri("v1/secrets/team/app", UriKind.Relative));
        Assert.Contains("may not do 'delete'", (await Problems.AssertAsync(delete, HttpStatusCode.Forbidden)).GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_create_the_policies_refuse_names_its_secret_whole_and_a_name_too_long_for_the_rule_is_400_without_echoing_it()
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir, [$"{Policy}Subjects:0=admin", $"{Policy}Secrets:0=team/**", $"{Policy}Actions:0=create"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        var longest = "other/" + new string('z', 253 - "other/".Length);
        var tooLong = "other/" + new string('z', 1024 * 1024);

        using var refused = await CreateAsync(http, longest);
        using var invalid = await CreateAsync(http, tooLong);

        var refusedDetail = (await Problems.AssertAsync(refused, HttpStatusCode.Forbidden)).GetProperty("detail").GetString()!;
        Assert.Equal($"The identity 'admin' may not do 'create' on the secret '{longest}': no entry of Trousseau:Api:Policies allows it.", refusedDetail);

        // The name rule is checked before the policies (a misspelt name says what is wrong with it, whoever calls), and
        // a name that long is not echoed, in the answer or the audit trail.
        var invalidDetail = (await Problems.AssertAsync(invalid, HttpStatusCode.BadRequest)).GetProperty("detail").GetString()!;
        Assert.StartsWith("Invalid secret name: use 1 to 253 characters", invalidDetail, StringComparison.Ordinal);
        Assert.DoesNotContain(File.ReadAllLines(Path.Combine(dataDir, "audit.log")), line => line.Length > 1024);
    }

    private static StringContent EmptyJson() => new("{}", System.Text.Encoding.UTF8, "application/json");

    private static Task<HttpResponseMessage> CreateAsync(HttpClient http, string name) => http.PostAsync(
        new Uri("v1/secrets", UriKind.Relative),
        new StringContent(JsonSerializer.Serialize(new { name, data = new { k = "v" } }), System.Text.Encoding.UTF8, "application/json"));

    [Theory]
    [InlineData("generate", """{}""")]
    [InlineData("regenerate", """{"key":"k"}""")]
    public async Task A_generate_the_policies_refuse_names_its_secret_in_the_answer_and_in_the_audit_trail(string route, string body)
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir, [$"{Policy}Subjects:0=admin", $"{Policy}Secrets:0=team/**", $"{Policy}Actions:0=read"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var stranger = BearerClient.Create(server.BaseAddress, "not-the-token");

        using var refused = await http.PostAsync(
            new Uri($"v1/secrets/prod/db/{route}", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        using var unauthenticated = await stranger.PostAsync(
            new Uri($"v1/secrets/prod/db/{route}", UriKind.Relative), new StringContent(body, System.Text.Encoding.UTF8, "application/json"));

        var detail = (await Problems.AssertAsync(refused, HttpStatusCode.Forbidden)).GetProperty("detail").GetString();
        Assert.Equal("The identity 'admin' may not do 'generate' on the secret 'prod/db': no entry of Trousseau:Api:Policies allows it.", detail);
        Assert.Equal(HttpStatusCode.Unauthorized, unauthenticated.StatusCode);
        var recorded = File.ReadAllLines(Path.Combine(dataDir, "audit.log")).Select(line =>
        {
            using var record = JsonDocument.Parse(line);
            var r = record.RootElement;
            return (r.GetProperty("identity").GetString(), r.GetProperty("outcome").GetString(), r.GetProperty("secret").GetString());
        });
        Assert.Equal([("admin", "denied", "prod/db"), (null, "unauthenticated", "prod/db")], recorded);
    }

    [Fact]
    public async Task Paging_a_listing_the_policies_filter_hands_out_no_token_that_names_a_secret_the_identity_may_not_list()
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir,
            [$"{Policy}Subjects:0=admin", $"{Policy}Secrets:0=**", $"{Policy}Actions:0=create",
             "--Trousseau:Api:Policies:1:Subjects:0=admin", "--Trousseau:Api:Policies:1:Secrets:0=team/**", "--Trousseau:Api:Policies:1:Actions:0=list"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        string[] hidden = ["acme/payroll-db", "customers/bigbank/vpn", "zeta/hidden"];
        foreach (var name in hidden.Append("team/app").Append("team/web"))
        {
            using var created = await http.PostAsync(
                new Uri("v1/secrets", UriKind.Relative),
                new StringContent(JsonSerializer.Serialize(new { name, data = new { k = "v" } }), System.Text.Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var listed = new List<string>();
        var tokens = new List<string>();
        string? token = null;
        do
        {
            using var page = await http.GetAsync(new Uri("v1/secrets?limit=1" + (token is null ? "" : "&continue=" + Uri.EscapeDataString(token)), UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            using var body = JsonDocument.Parse(await page.Content.ReadAsStringAsync());
            listed.AddRange(body.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()!));
            token = body.RootElement.TryGetProperty("continue", out var next) ? next.GetString() : null;
            tokens.AddRange(token is null ? [] : [token]);
        }
        while (token is not null && tokens.Count <= 10);

        Assert.Equal(["team/app", "team/web"], listed);
        foreach (var handedOut in tokens)
        {
            var text = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(handedOut));
            Assert.DoesNotContain(hidden, name => text.Contains(name, StringComparison.Ordinal));
        }
    }
}
