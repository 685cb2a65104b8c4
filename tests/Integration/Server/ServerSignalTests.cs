using System.Net;
using System.Net.Http.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>How a real trousseaud stops on the signals a terminal or a supervisor sends it.</summary>
public sealed class ServerSignalTests
{
    [Fact]
    public async Task Sighup_as_a_closing_terminal_sends_it_stops_trousseaud_cleanly_with_exit_0_removing_its_kms_socket()
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await http.PostAsJsonAsync("v1/secrets", new { name = "signal/hangup", data = new { k = "v" } }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        Assert.True(File.Exists(Path.Combine(dataDir, "kms.sock")));

        Assert.Equal(0, await server.StopAsync("HUP"));
        Assert.False(File.Exists(Path.Combine(dataDir, "kms.sock")), "the KMS socket was left behind");
        Assert.False(File.Exists(Path.Combine(dataDir, "store.db-wal")), "the store's write-ahead log was left behind, as after a kill");
    }

    [Theory]
    [InlineData("TERM")]
    [InlineData("HUP")]
    public async Task A_stop_signal_while_trousseaud_is_still_starting_stops_it_with_exit_0_and_no_stack_trace(string signal)
    {
        using var temp = new TempDirectory();
        var dataDir = temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartHostAsync(
            RepositoryPaths.ServerDll,
            temp.Path,
            ["--data-dir", dataDir],
            "healthz",
            new Dictionary<string, string?> { [StartupHook.ModeVariable] = StartupHook.StartNeverEndsMode },
            prepare: info => StartupHook.Enable(info, temp.Path));

        Assert.Equal(0, await server.StopAsync(signal));
        Assert.DoesNotContain("Unhandled exception", server.Log, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(dataDir, "kms.sock")), "the KMS socket was left behind");
    }
}
