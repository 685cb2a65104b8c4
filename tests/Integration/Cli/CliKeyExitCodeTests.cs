using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Cli;

/// <summary><c>clectl key</c>: the exit code of each kind of failure, and output in every format.</summary>
[Collection(ClectlAgainstOneServer.Name)]
public sealed class CliKeyExitCodeTests(ClectlFixture fixture)
{
    [Fact]
    public async Task Key_commands_exit_5_when_refused_6_when_unreachable_and_2_on_bad_arguments()
    {
        ClectlAssert.Fails(await fixture.Clectl.With(("TROUSSEAU_TOKEN", "not-the-token")).RunAsync("key", "rotate"), 5);
        ClectlAssert.Fails(await fixture.Clectl.With(("TROUSSEAU_SERVER", $"http://127.0.0.1:{FreePort.Next()}")).RunAsync("key", "status"), 6);
        ClectlAssert.Fails(await fixture.Clectl.RunAsync("key", "rotate", "now"), 2);
        ClectlAssert.Fails(await fixture.Clectl.RunAsync("key", "rewrap", "--all"), 2);
    }

    [Fact]
    public async Task Key_status_prints_a_table_json_or_yaml()
    {
        var table = await fixture.Clectl.RunAsync("key", "status");
        var json = await fixture.Clectl.RunAsync("key", "status", "-o", "json");
        var yaml = await fixture.Clectl.RunAsync("key", "status", "-o", "YAML");

        ClectlAssert.Ok(table);
        ClectlAssert.Ok(json);
        ClectlAssert.Ok(yaml);
        using var status = JsonDocument.Parse(json.Stdout);
        var keyId = status.RootElement.GetProperty("keyId").GetString();
        Assert.StartsWith("PROVIDER", table.Stdout, StringComparison.Ordinal);
        Assert.Equal($"keyId: {keyId}\nprovider: local\nversion: {status.RootElement.GetProperty("version").GetInt32()}\n", yaml.Stdout);
    }
}
