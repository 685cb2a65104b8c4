using Microsoft.AspNetCore.Http;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// clectl never sends a token in clear text across the network: to a plain <c>http://</c> server that is not on this
/// machine it sends nothing unless told that clear text is acceptable there (<c>--allow-insecure-http</c>,
/// <c>TROUSSEAU_ALLOW_INSECURE_HTTP</c>, or a context saved with the flag). The stand-in listens on an address of this
/// machine that is not loopback, which clectl cannot tell from another machine's.
/// </summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliInsecureHttpTests(ClectlFixture fixture)
{
    private const string Token = "remote-token-5f19c2";

    [Fact]
    public async Task A_token_is_never_sent_over_plain_http_to_another_machine()
    {
        await using var remote = await StandInAsync();
        var server = remote.BaseAddress.ToString();
        var tokenFile = Path.Combine(fixture.NewDirectory(), "remote.token");
        await File.WriteAllTextAsync(tokenFile, Token + "\n");
        var clectl = Clectl().With(("TROUSSEAU_TOKEN", Token));

        var fromEnvironment = await clectl.With(("TROUSSEAU_SERVER", server)).RunAsync("secret", "list");
        var fromFile = await clectl.With(("TROUSSEAU_TOKEN", null)).RunAsync("--server", server, "--token-file", tokenFile, "secret", "get", "app/db");
        var healthWithToken = await clectl.RunAsync("--server", server, "health");
        var laterInList = await clectl.RunAsync("--server", fixture.Server.BaseAddress + "," + server, "key", "status");

        Assert.Empty(remote.Requests);
        foreach (var result in new[] { fromEnvironment, fromFile, healthWithToken, laterInList })
        {
            var line = ClectlAssert.Fails(result, 2);
            Assert.Contains(server, line, StringComparison.Ordinal);
            Assert.Contains("https://", line, StringComparison.Ordinal);
            Assert.Contains("--allow-insecure-http", line, StringComparison.Ordinal);
            Assert.Contains("TROUSSEAU_ALLOW_INSECURE_HTTP=1", line, StringComparison.Ordinal);
            Assert.DoesNotContain(Token, line, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task With_the_opt_in_the_token_goes_over_plain_http_to_another_machine()
    {
        await using var remote = await StandInAsync();
        var server = remote.BaseAddress.ToString();
        var clectl = Clectl().With(("TROUSSEAU_TOKEN", Token), ("TROUSSEAU_SERVER", server));
        var tokenFile = Path.Combine(fixture.NewDirectory(), "remote.token");
        await File.WriteAllTextAsync(tokenFile, Token + "\n");

        ClectlAssert.Ok(await clectl.RunAsync("--allow-insecure-http", "secret", "list"));
        ClectlAssert.Ok(await clectl.With(("TROUSSEAU_ALLOW_INSECURE_HTTP", "1")).RunAsync("secret", "list"));
        var withContext = clectl.With(("TROUSSEAU_TOKEN", null), ("TROUSSEAU_SERVER", null));
        ClectlAssert.Ok(await withContext.RunAsync("context", "set", "lan", "--server", server, "--token-file", tokenFile, "--allow-insecure-http"));
        ClectlAssert.Ok(await withContext.RunAsync("secret", "list"));

        Assert.Equal(3, remote.Requests.Count);
        Assert.All(remote.Requests, request => Assert.Equal("Bearer " + Token, request.Header("Authorization")));
    }

    [Fact]
    public async Task A_context_opt_in_is_only_for_that_context_servers()
    {
        await using var remote = await StandInAsync();
        var clectl = Clectl().With(("TROUSSEAU_TOKEN", Token));
        ClectlAssert.Ok(await clectl.RunAsync("context", "set", "local", "--server", fixture.Server.BaseAddress.ToString(), "--allow-insecure-http"));

        var elsewhere = await clectl.RunAsync("--context", "local", "--server", remote.BaseAddress.ToString(), "secret", "list");

        ClectlAssert.Fails(elsewhere, 2);
        Assert.Empty(remote.Requests);
    }

    [Fact]
    public async Task Without_a_token_plain_http_to_another_machine_stays_allowed()
    {
        await using var remote = await StandInAsync();

        var health = await Clectl().RunAsync("--server", remote.BaseAddress.ToString(), "health");

        ClectlAssert.Ok(health);
        Assert.Null(Assert.Single(remote.Requests).Header("Authorization"));
    }

    [Fact]
    public async Task An_opt_in_variable_that_is_not_a_yes_or_no_is_refused()
    {
        await using var remote = await StandInAsync();

        var result = await Clectl().With(("TROUSSEAU_TOKEN", Token), ("TROUSSEAU_ALLOW_INSECURE_HTTP", "maybe"))
            .RunAsync("--server", remote.BaseAddress.ToString(), "secret", "list");

        var line = ClectlAssert.Fails(result, 2);
        Assert.Contains("TROUSSEAU_ALLOW_INSECURE_HTTP", line, StringComparison.Ordinal);
        Assert.Contains("'maybe'", line, StringComparison.Ordinal);
        Assert.Empty(remote.Requests);
    }

    /// <summary>clectl with no token and no server from the environment, and a configuration of its own.</summary>
    private ClectlRunner Clectl()
    {
        var directory = fixture.NewDirectory();
        return fixture.Clectl.In(directory).With(
            ("TROUSSEAU_HOME", null),
            ("TROUSSEAU_TOKEN", null),
            ("TROUSSEAU_SERVER", null),
            ("XDG_CONFIG_HOME", Path.Combine(directory, "config")));
    }

    /// <summary>A stand-in trousseaud at a non-loopback address: an empty secret list, and a ready health report.</summary>
    private static Task<RecordingServer> StandInAsync() => RecordingServer.StartElsewhereAsync(request => request.Path switch
    {
        "/readyz" => Results.Json(new { status = "Healthy", checks = new Dictionary<string, object>() }),
        _ => Results.Json(new { items = Array.Empty<object>() }),
    });
}
