using System.Net;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Who trousseaud takes a caller for in token and none modes, as <c>GET /v1/auth/whoami</c> and <c>clectl auth
/// whoami</c> show it, and how it answers a malformed <c>Authorization</c> header.
/// </summary>
public sealed class ApiIdentityTests(ApiServerFixture fixture) : IClassFixture<ApiServerFixture>, IDisposable
{
    private static readonly string[] EveryAction = ["read", "list", "create", "update", "delete", "generate", "keys", "encrypt", "decrypt"];

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_api_token_is_the_identity_admin_which_may_do_everything_without_policies()
    {
        using var answer = await fixture.Http.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        using var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());

        Assert.Equal("admin", body.RootElement.GetProperty("identity").GetString());
        Assert.Equal(EveryAction, body.RootElement.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));
        var policy = Assert.Single(body.RootElement.GetProperty("policies").EnumerateArray());
        Assert.Equal(["**"], policy.GetProperty("secrets").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(EveryAction, policy.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));
    }

    [Fact]
    public async Task Clectl_auth_whoami_prints_the_identity_as_a_table_and_as_json()
    {
        var clectl = ClectlRunner.For(fixture.Server, fixture.DataDir, fixture.WorkingDirectory);

        var table = await clectl.RunAsync("auth", "whoami");
        var json = await clectl.RunAsync("auth", "whoami", "-o", "json");

        ClectlAssert.Ok(table);
        var lines = table.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(["IDENTITY", "admin"], lines[..2].Select(l => l.Trim()));
        Assert.Contains(lines, l => l.StartsWith("ACTIONS", StringComparison.Ordinal) && l.Contains("SECRETS", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith(string.Join(',', EveryAction), StringComparison.Ordinal) && l.EndsWith("**", StringComparison.Ordinal));
        ClectlAssert.Ok(json);
        using var body = JsonDocument.Parse(json.Stdout);
        Assert.Equal("admin", body.RootElement.GetProperty("identity").GetString());
        Assert.Equal(EveryAction, body.RootElement.GetProperty("actions").EnumerateArray().Select(a => a.GetString()));
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("Bearer      ")]
    [InlineData("Bearer two words")]
    [InlineData("Basic dXNlcjpwYXNzd29yZA==")]
    [InlineData("Token abc")]
    public async Task A_malformed_authorization_header_is_401_in_token_mode(string authorization)
    {
        using var http = new HttpClient { BaseAddress = fixture.Server.BaseAddress };
        http.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", authorization);

        using var answer = await http.GetAsync(new Uri("v1/keys", UriKind.Relative));

        var problem = await Problems.AssertAsync(answer, HttpStatusCode.Unauthorized);
        Assert.Equal("urn:trousseau:problem:unauthenticated", problem.GetProperty("type").GetString());
    }

    [Fact]
    public async Task Mode_none_calls_every_caller_anonymous_and_still_refuses_a_malformed_header()
    {
        await using var open = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), ["--Trousseau:Api:Auth:Mode=none"]);
        using var http = new HttpClient { BaseAddress = open.BaseAddress };
        using var malformed = new HttpClient { BaseAddress = open.BaseAddress };
        malformed.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Bearer two words");

        using var answer = await http.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));
        using var refused = await malformed.GetAsync(new Uri("v1/keys", UriKind.Relative));
        var whoami = await new ClectlRunner(_temp.Path, new Dictionary<string, string?>
        {
            ["TROUSSEAU_SERVER"] = open.BaseAddress.ToString(),
            ["TROUSSEAU_HOME"] = _temp.Combine("elsewhere"),
            ["XDG_CONFIG_HOME"] = _temp.Combine("config"),
        }).RunAsync("auth", "whoami", "-o", "json");

        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        using (var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()))
        {
            Assert.Equal("anonymous", body.RootElement.GetProperty("identity").GetString());
        }

        await Problems.AssertAsync(refused, HttpStatusCode.Unauthorized);
        ClectlAssert.Ok(whoami);
        using var printed = JsonDocument.Parse(whoami.Stdout);
        Assert.Equal("anonymous", printed.RootElement.GetProperty("identity").GetString());
    }
}
