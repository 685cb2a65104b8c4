using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>How clectl finds its API token, and what it says when it has none or the server refuses it (exit 5).</summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliAuthTests(ClectlFixture fixture)
{
    private const string WrongToken = "wrong-token-7f3a9c";

    [Fact]
    public async Task Without_a_token_clectl_names_the_token_file_it_looked_for_and_what_to_do()
    {
        var workingDirectory = fixture.NewDirectory();
        var clectl = fixture.Clectl.In(workingDirectory).With(("TROUSSEAU_HOME", null), ("TROUSSEAU_TOKEN", null));

        var line = ClectlAssert.Fails(await clectl.RunAsync("secret", "list"), 5);

        Assert.Contains(Path.Combine(workingDirectory, ".trousseau", "api.token"), line, StringComparison.Ordinal);
        Assert.Contains("$TROUSSEAU_HOME is not set", line, StringComparison.Ordinal);
        Assert.Contains("--token-file", line, StringComparison.Ordinal);
        Assert.Contains("TROUSSEAU_HOME", line, StringComparison.Ordinal);
        Assert.Contains("clectl context set", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_a_token_in_TROUSSEAU_HOME_clectl_names_that_directory()
    {
        var home = fixture.NewDirectory();

        var line = ClectlAssert.Fails(await fixture.Clectl.With(("TROUSSEAU_HOME", home), ("TROUSSEAU_TOKEN", null)).RunAsync("key", "status"), 5);

        Assert.Contains(Path.Combine(home, "api.token"), line, StringComparison.Ordinal);
        Assert.Contains("from $TROUSSEAU_HOME", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_refused_token_is_named_by_where_it_came_from_and_never_printed()
    {
        var file = Path.Combine(fixture.NewDirectory(), "stale.token");
        await File.WriteAllTextAsync(file, WrongToken + "\n");

        var fromEnvironment = await fixture.Clectl.With(("TROUSSEAU_TOKEN", WrongToken)).RunAsync("secret", "list");
        var fromFile = await fixture.Clectl.RunAsync("secret", "list", "--token-file", file);
        var fromFlag = await fixture.Clectl.RunAsync("secret", "list", "--token", WrongToken);

        Assert.Contains("refused the API token from $TROUSSEAU_TOKEN", ClectlAssert.Fails(fromEnvironment, 5), StringComparison.Ordinal);
        Assert.Contains($"refused the API token from --token-file {file}", ClectlAssert.Fails(fromFile, 5), StringComparison.Ordinal);
        Assert.Contains("refused the API token from --token ", ClectlAssert.Fails(fromFlag, 5), StringComparison.Ordinal);
        Assert.All([fromEnvironment, fromFile, fromFlag], result => Assert.DoesNotContain(WrongToken, result.Stderr, StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("\r")]
    [InlineData("\n")]
    public async Task A_token_with_a_line_break_in_it_is_a_usage_error_naming_where_it_came_from_and_never_printed(string lineBreak)
    {
        var fromEnvironment = await fixture.Clectl.With(("TROUSSEAU_TOKEN", WrongToken + lineBreak)).RunAsync("secret", "list");
        var fromFlag = await fixture.Clectl.RunAsync("secret", "list", "--token", WrongToken + lineBreak + "x");

        Assert.Contains("The API token from $TROUSSEAU_TOKEN holds a line break", ClectlAssert.Fails(fromEnvironment, 2), StringComparison.Ordinal);
        Assert.Contains("The API token from --token holds a line break", ClectlAssert.Fails(fromFlag, 2), StringComparison.Ordinal);
        Assert.All([fromEnvironment, fromFlag], result => Assert.DoesNotContain(WrongToken, result.Stdout + result.Stderr, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_token_file_that_does_not_exist_is_a_usage_error_naming_it()
    {
        var missing = Path.Combine(fixture.NewDirectory(), "absent.token");

        var line = ClectlAssert.Fails(await fixture.Clectl.RunAsync("secret", "list", "--token-file", missing), 2);

        Assert.Contains(missing, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_and_servers_that_ask_for_no_token_work_without_one()
    {
        var data = Path.Combine(fixture.NewDirectory(), "data");
        await using var open = await TrousseauServerProcess.StartAsync(data, ["--Trousseau:Api:Auth:Mode=none"]);
        var noToken = fixture.Clectl.In(fixture.NewDirectory()).With(("TROUSSEAU_HOME", null), ("TROUSSEAU_TOKEN", null));

        ClectlAssert.Ok(await noToken.RunAsync("health"));
        ClectlAssert.Ok(await noToken.With(("TROUSSEAU_SERVER", open.BaseAddress.ToString())).RunAsync("secret", "create", "open/one", "--from-literal", "k=v"));
    }
}
