using Microsoft.AspNetCore.Http;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// clectl sends a token only to the server it belongs to: the data directory's <c>api.token</c> to the default local
/// server, a context's token to that context's server, and a token given explicitly to the server given.
/// </summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliTokenScopeTests(ClectlFixture fixture)
{
    private const string LocalToken = "local-token-0d5e1f";
    private const string DefaultServer = "http://127.0.0.1:8787";

    [Theory]
    [InlineData("HTTP_PROXY")]
    [InlineData("http_proxy")]
    [InlineData("ALL_PROXY")]
    public async Task A_proxy_from_the_environment_never_gets_a_request_to_a_server_on_this_machine(string variable)
    {
        await using var proxy = await RecordingServer.StartAsync(_ => Results.Problem(statusCode: StatusCodes.Status502BadGateway, title: "Bad Gateway", detail: "Proxy."));
        var clectl = fixture.Clectl.With((variable, proxy.BaseAddress.ToString()));

        var list = await clectl.RunAsync("secret", "list");

        ClectlAssert.Ok(list);
        Assert.Empty(proxy.Requests);
    }

    [Fact]
    public async Task The_data_directory_token_is_never_sent_to_another_server()
    {
        await using var other = await UnauthenticatedServerAsync();
        var workingDirectory = fixture.NewDirectory();
        Directory.CreateDirectory(Path.Combine(workingDirectory, ".trousseau"));
        await File.WriteAllTextAsync(Path.Combine(workingDirectory, ".trousseau", "api.token"), LocalToken + "\n");
        var home = fixture.NewDirectory();
        await File.WriteAllTextAsync(Path.Combine(home, "api.token"), LocalToken + "\n");
        var clectl = fixture.Clectl.In(workingDirectory).With(("TROUSSEAU_HOME", null), ("TROUSSEAU_TOKEN", null), ("TROUSSEAU_SERVER", null));

        var byFlag = await clectl.RunAsync("--server", other.BaseAddress.ToString(), "secret", "list");
        var byEnvironment = await clectl.With(("TROUSSEAU_SERVER", other.BaseAddress.ToString())).RunAsync("secret", "get", "some/secret");
        var fromHome = await clectl.With(("TROUSSEAU_HOME", home)).RunAsync("--server", other.BaseAddress.ToString(), "key", "status");

        Assert.Equal(3, other.Requests.Count);
        Assert.All(other.Requests, request => Assert.Null(request.Header("Authorization")));
        foreach (var result in new[] { byFlag, byEnvironment, fromHome })
        {
            var line = ClectlAssert.Fails(result, 5);
            Assert.Contains("--token-file", line, StringComparison.Ordinal);
            Assert.Contains("TROUSSEAU_TOKEN", line, StringComparison.Ordinal);
            Assert.Contains(DefaultServer, line, StringComparison.Ordinal);
            Assert.DoesNotContain(LocalToken, line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_context_token_goes_only_to_that_context_server()
    {
        await using var other = await UnauthenticatedServerAsync();
        var clectl = fixture.Clectl.In(fixture.NewDirectory()).With(("TROUSSEAU_HOME", null), ("TROUSSEAU_TOKEN", null), ("TROUSSEAU_SERVER", null));
        ClectlAssert.Ok(await clectl.RunAsync("context", "set", "real", "--server", fixture.Server.BaseAddress.ToString(), "--token-file", Path.Combine(fixture.DataDir, "api.token")));

        var own = await clectl.RunAsync("--context", "real", "secret", "list");
        var elsewhere = await clectl.RunAsync("--context", "real", "--server", other.BaseAddress.ToString(), "secret", "list");

        ClectlAssert.Ok(own);
        ClectlAssert.Fails(elsewhere, 5);
        Assert.Null(Assert.Single(other.Requests).Header("Authorization"));
    }

    [Fact]
    public async Task A_token_given_explicitly_goes_to_the_server_given()
    {
        await using var other = await UnauthenticatedServerAsync();
        var tokenFile = Path.Combine(fixture.NewDirectory(), "other.token");
        await File.WriteAllTextAsync(tokenFile, "file-token-8c2b\n");
        var clectl = fixture.Clectl.In(fixture.NewDirectory()).With(("TROUSSEAU_HOME", null), ("TROUSSEAU_TOKEN", null), ("TROUSSEAU_SERVER", other.BaseAddress.ToString()));

        ClectlAssert.Fails(await clectl.RunAsync("secret", "list", "--token-file", tokenFile), 5);
        ClectlAssert.Fails(await clectl.With(("TROUSSEAU_TOKEN", "environment-token-41aa")).RunAsync("secret", "list"), 5);

        Assert.Equal(["Bearer file-token-8c2b", "Bearer environment-token-41aa"], other.Requests.Select(r => r.Header("Authorization")));
    }

    private static Task<RecordingServer> UnauthenticatedServerAsync() => RecordingServer.StartAsync(_ => Results.Problem(
        statusCode: StatusCodes.Status401Unauthorized,
        title: "Unauthenticated",
        detail: "A bearer token is required.",
        type: "urn:trousseau:problem:unauthenticated"));
}
