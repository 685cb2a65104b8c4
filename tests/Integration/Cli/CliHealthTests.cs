using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary><c>clectl health</c>: the checks of a ready server share one; the others need a server down, or none.</summary>
public sealed class CliHealthTests(ApiServerFixture ready) : IClassFixture<ApiServerFixture>, IDisposable
{
    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Health_reports_each_check_and_exits_0_when_ready()
    {
        var server = ready.Server;

        var table = await ClectlAsync("health", "--server", server.BaseAddress.ToString());
        Assert.Equal(0, table.ExitCode);
        Assert.Contains("key-provider", table.Stdout, StringComparison.Ordinal);
        Assert.Contains("store", table.Stdout, StringComparison.Ordinal);

        var json = await ClectlAsync("health", "--server", server.BaseAddress.ToString(), "-o", "json");
        Assert.Equal(0, json.ExitCode);
        using var report = JsonDocument.Parse(json.Stdout);
        Assert.Equal("healthy", report.RootElement.GetProperty("status").GetString());
    }

    [Fact]
    public async Task Health_json_is_indented_and_yaml_carries_the_same_checks()
    {
        var server = ready.Server;

        var json = await ClectlAsync("health", "--server", server.BaseAddress.ToString(), "-o", "json");
        var yaml = await ClectlAsync("health", "--server", server.BaseAddress.ToString(), "-o", "yaml");

        Assert.Equal(0, json.ExitCode);
        Assert.StartsWith("{\n  \"status\": \"healthy\",\n  \"checks\": {\n", json.Stdout, StringComparison.Ordinal);
        Assert.Equal(0, yaml.ExitCode);
        Assert.StartsWith("status: healthy\nchecks:\n  key-provider:\n    status: healthy\n", yaml.Stdout, StringComparison.Ordinal);
        Assert.Contains("\n  store:\n    status: healthy\n", yaml.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_exits_6_and_shows_the_failing_check_when_the_key_provider_is_down()
    {
        string[] vaultDown = ["--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address=http://127.0.0.1:{FreePort.Next()}", "--Trousseau:Vault:Auth:Token=unused", "--Trousseau:Kms:Enabled=false"];
        await using var server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"), vaultDown);

        var result = await ClectlAsync("health", "--server", server.BaseAddress.ToString());

        // The last of a list, after a server that could not be reached: its report is printed all the same.
        var afterAnother = await ClectlAsync("health", "--server", $"http://127.0.0.1:{FreePort.Next()}/,{server.BaseAddress}");

        foreach (var health in new[] { result, afterAnother })
        {
            Assert.True(health.ExitCode == 6, $"expected exit 6, got {health.ExitCode}: {health.Stderr}");
            var keyProvider = Assert.Single(health.Stdout.Split('\n'), line => line.StartsWith("key-provider", StringComparison.Ordinal));
            Assert.Contains("unhealthy", keyProvider, StringComparison.Ordinal);
        }

        Assert.Contains(server.BaseAddress.ToString(), afterAnother.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Health_exits_6_with_one_line_when_no_server_listens()
    {
        var result = await ClectlAsync("health", "--server", $"http://127.0.0.1:{FreePort.Next()}");

        Assert.Equal(6, result.ExitCode);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Usage_errors_exit_2()
    {
        var result = await ClectlAsync("health", "-o", "xml");

        Assert.Equal(2, result.ExitCode);
        Assert.Single(result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    public void Dispose() => _temp.Dispose();

    private Task<ProcessResult> ClectlAsync(params string[] args) =>
        ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.Cli, args, _temp.Path));
}
