using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary>Two trousseaud instances on the embedded default, started once for the context tests.</summary>
public sealed class TwoServersFixture : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();

    internal TrousseauServerProcess First { get; private set; } = null!;

    internal TrousseauServerProcess Second { get; private set; } = null!;

    /// <summary>The bearer token file of the server whose data directory is <paramref name="dataDir"/> (first or second).</summary>
    public string TokenFile(string dataDir) => _temp.Combine(dataDir, "api.token");

    public async Task InitializeAsync()
    {
        var servers = await Task.WhenAll(
            TrousseauServerProcess.StartAsync(_temp.Combine("first")),
            TrousseauServerProcess.StartAsync(_temp.Combine("second")));
        (First, Second) = (servers[0], servers[1]);
    }

    public async Task DisposeAsync()
    {
        await First.DisposeAsync();
        await Second.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();
}

/// <summary>One clectl, two trousseaud instances, switched by context; each test has a clectl configuration of its own.</summary>
public sealed class CliContextTests : IClassFixture<TwoServersFixture>, IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly TwoServersFixture _servers;
    private readonly ClectlRunner _clectl;

    public CliContextTests(TwoServersFixture servers)
    {
        _servers = servers;
        _clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?> { ["XDG_CONFIG_HOME"] = _temp.Combine("config") });
    }

    private TrousseauServerProcess First => _servers.First;

    private TrousseauServerProcess Second => _servers.Second;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Contexts_choose_the_instance_and_are_stored_owner_only()
    {
        await SetContextAsync("first", First, "first");
        await SetContextAsync("second", Second, "second");

        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "where/am-i", "--from-literal", "k=on-first"));
        ClectlAssert.Ok(await _clectl.RunAsync("context", "use", "second"));
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "where/am-i", "--from-literal", "k=on-second"));

        Assert.Equal("on-second", (await _clectl.RunAsync("secret", "get", "where/am-i", "--key", "k")).Stdout);
        Assert.Equal("on-first", (await _clectl.RunAsync("--context", "first", "secret", "get", "where/am-i", "--key", "k")).Stdout);
        Assert.Equal("on-first", (await _clectl.RunAsync("secret", "get", "where/am-i", "--key", "k", "--server", First.BaseAddress.ToString(), "--token-file", _servers.TokenFile("first"))).Stdout);

        var list = await _clectl.RunAsync("context", "list", "-o", "json");
        ClectlAssert.Ok(list);
        using var contexts = JsonDocument.Parse(list.Stdout);
        Assert.Equal("second", contexts.RootElement.GetProperty("current").GetString());
        Assert.Equal(["first", "second"], contexts.RootElement.GetProperty("contexts").EnumerateArray().Select(c => c.GetProperty("name").GetString()));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_temp.Combine("config", "trousseau", "config.json")));
    }

    [Fact]
    public async Task Context_set_keeps_a_token_given_with_token_and_list_never_prints_it()
    {
        var token = await BearerClient.ReadTokenAsync(_servers.TokenFile("first"));
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", "inline", "--server", First.BaseAddress.ToString(), "--token", token));

        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "inline/token", "--from-literal", "k=v"));
        var table = await _clectl.RunAsync("context", "list");
        var json = await _clectl.RunAsync("context", "list", "-o", "json");
        var yaml = await _clectl.RunAsync("context", "list", "-o", "yaml");

        Assert.All([table, json, yaml], result =>
        {
            ClectlAssert.Ok(result);
            Assert.DoesNotContain(token, result.Stdout, StringComparison.Ordinal);
        });
        Assert.Contains("(stored)", table.Stdout, StringComparison.Ordinal);
        using var contexts = JsonDocument.Parse(json.Stdout);
        Assert.True(contexts.RootElement.GetProperty("contexts")[0].GetProperty("tokenStored").GetBoolean());
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(_temp.Combine("config", "trousseau", "config.json")));
    }

    [Fact]
    public async Task Context_mistakes_exit_2()
    {
        Assert.Equal(2, (await _clectl.RunAsync("context", "use", "nowhere")).ExitCode);
        Assert.Equal(2, (await _clectl.RunAsync("context", "set", "no-server")).ExitCode);
        Assert.Equal(2, (await _clectl.RunAsync("context", "set", "bad-url", "--server", "ftp://example.org")).ExitCode);
        Assert.Equal(2, (await _clectl.RunAsync("context", "set", "both", "--server", First.BaseAddress.ToString(), "--token", "t", "--token-file", _servers.TokenFile("first"))).ExitCode);
        Assert.Equal(2, (await _clectl.RunAsync("context", "lst")).ExitCode);

        Assert.Equal("current: null\ncontexts: []\n", (await _clectl.RunAsync("context", "list", "-o", "yaml")).Stdout);
    }

    [Fact]
    public async Task An_unknown_context_is_a_usage_error()
    {
        var result = await _clectl.RunAsync("--context", "nowhere", "secret", "list");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("nowhere", result.Stderr, StringComparison.Ordinal);
    }

    private async Task SetContextAsync(string name, TrousseauServerProcess server, string dataDir) =>
        ClectlAssert.Ok(await _clectl.RunAsync("context", "set", name, "--server", server.BaseAddress.ToString(), "--token-file", _servers.TokenFile(dataDir)));
}
