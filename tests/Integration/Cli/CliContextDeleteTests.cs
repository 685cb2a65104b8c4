using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary><c>clectl context delete</c>, as kubectl's <c>config delete-context</c>; no server needed.</summary>
public sealed class CliContextDeleteTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly ClectlRunner _clectl;

    public CliContextDeleteTests() =>
        _clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });

    private string ContextsFile => _temp.Combine("config", "trousseau", "config.json");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Context_delete_removes_that_context_keeps_the_others_and_the_file_owner_only_and_says_so_in_one_line()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "prod", "--server", "http://127.0.0.1:1"));
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "staging", "--server", "http://127.0.0.1:2"));

        var deleted = await _clectl.RunAsync("context", "delete", "staging");

        ClectlAssert.Ok(deleted);
        Assert.Equal("context staging deleted\n", deleted.Stdout);
        Assert.Empty(deleted.Stderr);
        using var contexts = await ListAsync();
        Assert.Equal("prod", contexts.RootElement.GetProperty("current").GetString());
        Assert.Equal(["prod"], contexts.RootElement.GetProperty("contexts").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(ContextsFile));
    }

    [Fact]
    public async Task Deleting_the_current_context_leaves_none_current_and_says_so()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "prod", "--server", "http://127.0.0.1:1"));
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "staging", "--server", "http://127.0.0.1:2"));

        var deleted = await _clectl.RunAsync("context", "delete", "prod");

        ClectlAssert.Ok(deleted);
        Assert.Equal("context prod deleted; it was the current context, so none is current now (choose one with clectl context use NAME)\n", deleted.Stdout);
        using var contexts = await ListAsync();
        Assert.Equal(JsonValueKind.Null, contexts.RootElement.GetProperty("current").ValueKind);
        Assert.Equal(["staging"], contexts.RootElement.GetProperty("contexts").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Deleting_an_unknown_context_exits_2_naming_it_with_the_nearest_name_and_changes_nothing()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "prod", "--server", "http://127.0.0.1:1"));
        var before = await File.ReadAllBytesAsync(ContextsFile);

        var error = ClectlAssert.Fails(await _clectl.RunAsync("context", "delete", "prdo"), 2);
        var none = ClectlAssert.Fails(await _clectl.RunAsync("context", "delete", "elsewhere"), 2);

        Assert.Equal("clectl: No context named 'prdo'. Did you mean 'prod'? (see clectl context list)", error);
        Assert.Equal("clectl: No context named 'elsewhere'. (see clectl context list)", none);
        Assert.Equal(before, await File.ReadAllBytesAsync(ContextsFile));
    }

    [Theory]
    [InlineData("context --help")]
    [InlineData("help context")]
    public async Task The_context_help_lists_delete(string line)
    {
        var help = await _clectl.RunAsync(line.Split(' '));

        ClectlAssert.Ok(help);
        Assert.Contains("delete <name>", help.Stdout, StringComparison.Ordinal);
    }

    private async Task<JsonDocument> ListAsync()
    {
        var list = await _clectl.RunAsync("context", "list", "-o", "json");
        ClectlAssert.Ok(list);
        return JsonDocument.Parse(list.Stdout);
    }
}
