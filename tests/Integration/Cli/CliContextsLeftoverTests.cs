using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>
/// The temporary file a <c>clectl context</c> command killed while it saved the contexts file leaves beside it
/// (<c>config.json.&lt;32 hex&gt;.tmp</c>, which may hold a context's token): the next command that saves the file deletes it.
/// </summary>
public sealed class CliContextsLeftoverTests : IDisposable
{
    private const string LeftToken = "left-behind-token-8f1e2d";

    private readonly TempDirectory _temp = new();
    private readonly ClectlRunner _clectl;

    public CliContextsLeftoverTests() =>
        _clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });

    private string ContextsFile => _temp.Combine("config", "trousseau", "config.json");

    public void Dispose() => _temp.Dispose();

    [Theory]
    [InlineData("context set staging --server http://127.0.0.1:2")]
    [InlineData("context use prod")]
    [InlineData("context delete prod")]
    public async Task A_temporary_file_a_killed_save_left_is_deleted_by_the_next_context_command_that_saves_with_one_warning(string command)
    {
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "prod", "--server", "http://127.0.0.1:1"));
        var leftover = $"{ContextsFile}.{Guid.NewGuid():N}.tmp";
        await File.WriteAllTextAsync(leftover, "{\"contexts\":{\"prod\":{\"server\":\"http://127.0.0.1:1\",\"token\":\"" + LeftToken + "\"}}}");
        File.SetUnixFileMode(leftover, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var unrelated = $"{ContextsFile}.backup.tmp";
        await File.WriteAllTextAsync(unrelated, "kept");

        var result = await _clectl.RunAsync(command.Split(' '));

        ClectlAssert.Ok(result);
        Assert.False(File.Exists(leftover), $"{leftover} is still there");
        Assert.True(File.Exists(unrelated), $"{unrelated} was deleted");
        Assert.Equal(
            $"clectl: warning: deleted 1 temporary file beside {ContextsFile} that a clectl killed while it saved that file left behind; it may have held a context's token.\n",
            result.Stderr);
        Assert.DoesNotContain(LeftToken, result.Stdout + result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Context_set_run_many_times_at_once_keeps_every_context()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "first", "--server", "http://127.0.0.1:1"));

        var names = Enumerable.Range(0, 6).Select(i => $"c{i}").ToList();
        var results = await Task.WhenAll(names.Select(name => _clectl.RunAsync("context", "set", name, "--server", "http://127.0.0.1:2")));

        Assert.All(results, ClectlAssert.Ok);
        var listed = await _clectl.RunAsync("context", "list", "-o", "json");
        ClectlAssert.Ok(listed);
        using var contexts = JsonDocument.Parse(listed.Stdout);
        Assert.Equal(
            ["c0", "c1", "c2", "c3", "c4", "c5", "first"],
            contexts.RootElement.GetProperty("contexts").EnumerateArray().Select(c => c.GetProperty("name").GetString()).Order(StringComparer.Ordinal));
    }
}
