using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// A token or a secret value typed as a command-line argument is visible to every user of the machine in the process
/// list; clectl says so on stderr, in one line that never repeats the value, and names the safe way.
/// </summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliCommandLineExposureTests(ClectlFixture fixture)
{
    private const string Canary = "canary-value-93f0c2";

    [Fact]
    public async Task A_value_given_with_from_literal_works_and_gets_a_warning_that_names_the_safe_ways()
    {
        var result = await fixture.Clectl.RunAsync("secret", "create", "exposed/literal", "--from-literal", $"k={Canary}");

        ClectlAssert.Ok(result);
        var warning = Assert.Single(Lines(result.Stderr));
        Assert.StartsWith("clectl: warning: ", warning, StringComparison.Ordinal);
        Assert.Contains("--from-literal", warning, StringComparison.Ordinal);
        Assert.Contains("--from-file", warning, StringComparison.Ordinal);
        Assert.Contains("--password-stdin", warning, StringComparison.Ordinal);
        Assert.DoesNotContain(Canary, result.Stderr + result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_token_given_with_the_token_flag_works_and_gets_a_warning_that_names_the_safe_ways()
    {
        var token = await BearerClient.ReadTokenAsync(Path.Combine(fixture.DataDir, "api.token"));

        var list = await fixture.Clectl.With(("TROUSSEAU_TOKEN", null)).RunAsync("secret", "list", "--token", token);
        var context = await fixture.Clectl.RunAsync("context", "set", "exposed", "--server", fixture.Server.BaseAddress.ToString(), "--token", Canary);

        foreach (var result in new[] { list, context })
        {
            ClectlAssert.Ok(result);
            var warning = Assert.Single(Lines(result.Stderr));
            Assert.StartsWith("clectl: warning: ", warning, StringComparison.Ordinal);
            Assert.Contains("--token-file", warning, StringComparison.Ordinal);
            Assert.Contains("TROUSSEAU_TOKEN", warning, StringComparison.Ordinal);
            Assert.DoesNotContain(token, result.Stderr + result.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain(Canary, result.Stderr + result.Stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Values_from_files_stdin_and_the_environment_get_no_warning()
    {
        var file = Path.Combine(fixture.NewDirectory(), "value.txt");
        await File.WriteAllTextAsync(file, Canary);

        var fromFile = await fixture.Clectl.RunAsync("secret", "create", "exposed/file", "--from-file", $"k={file}");
        var fromStdin = await fixture.Clectl.RunWithInputAsync(Canary, "secret", "create", "exposed/stdin", "--type", "login", "--username", "u", "--password-stdin");

        foreach (var result in new[] { fromFile, fromStdin })
        {
            ClectlAssert.Ok(result);
            Assert.Empty(result.Stderr);
        }
    }

    private static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
}
