using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>What trousseaud does under pressure from inside: a data-key cache of one, a background service that fails.</summary>
public sealed class ServerFaultTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string DataDir => _temp.Combine("data");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task With_a_one_key_cache_secrets_under_older_data_keys_stay_readable_and_the_worker_rewraps_them_without_stopping_the_daemon()
    {
        await using var server = await TrousseauServerProcess.StartAsync(DataDir, ["--Trousseau:DataKeys:CacheSize=1", "--Trousseau:Worker:Interval=00:00:00.2"]);
        using var http = await ClientAsync(server);

        await CreateAsync(http, "a", "value-a");
        await RotateAsync(http);
        await CreateAsync(http, "b", "value-b");
        await RotateAsync(http);
        await CreateAsync(http, "c", "value-c");

        foreach (var name in new[] { "a", "b", "c", "a" })
        {
            Assert.Equal($"value-{name}", await ReadAsync(http, name));
        }

        await Eventually.HoldsAsync(() => server.Log.Contains("Rewrap after rotation finished", StringComparison.Ordinal) || server.HasExited, () => server.Log);
        Assert.False(server.HasExited, server.Log);
        Assert.Equal("value-a", await ReadAsync(http, "a"));
        Assert.DoesNotContain("BackgroundService failed", server.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_background_service_that_faults_stops_trousseaud_with_exit_code_1_not_0()
    {
        // A startup hook is how the test adds a failing service; it runs the trousseaud assembly even when the suite runs
        // against a native trousseaud.
        var info = DotnetProcess.StartInfo(RepositoryPaths.ServerDll, ["--urls", $"http://127.0.0.1:{FreePort.Next()}", "--data-dir", DataDir], _temp.Path);
        StartupHook.Enable(info, _temp.Path);

        var result = await ChildProcess.RunAsync(info);

        Assert.True(result.ExitCode == 1, $"exit code {result.ExitCode}\n{result.Stdout}\n{result.Stderr}");
        Assert.Contains(StartupHook.FailureMessage, result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.Contains("trousseaud: stopped because a background service failed", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_background_service_that_faults_before_trousseaud_has_finished_starting_stops_it_with_exit_code_1_not_0()
    {
        var info = DotnetProcess.StartInfo(RepositoryPaths.ServerDll, ["--urls", $"http://127.0.0.1:{FreePort.Next()}", "--data-dir", DataDir], _temp.Path);
        StartupHook.Enable(info, _temp.Path);
        info.Environment[StartupHook.ModeVariable] = StartupHook.FailsBeforeStartReturnsMode;

        var result = await ChildProcess.RunAsync(info);

        Assert.True(result.ExitCode == 1, $"exit code {result.ExitCode}\n{result.Stdout}\n{result.Stderr}");
        Assert.Contains(StartupHook.FailureMessage, result.Stdout + result.Stderr, StringComparison.Ordinal);
        Assert.Contains("trousseaud: stopped because a background service failed", result.Stderr, StringComparison.Ordinal);
    }

    private Task<HttpClient> ClientAsync(TrousseauServerProcess server) =>
        BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(DataDir, "api.token"));

    private static async Task CreateAsync(HttpClient http, string name, string value)
    {
        using var body = new StringContent($$$"""{"name":"{{{name}}}","data":{"k":"{{{value}}}"}}""", Encoding.UTF8, "application/json");
        using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), body);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
    }

    private static async Task RotateAsync(HttpClient http)
    {
        using var rotated = await http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
    }

    private static async Task<string?> ReadAsync(HttpClient http, string name)
    {
        using var read = await http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
        var body = await read.Content.ReadAsStringAsync();
        Assert.True(read.StatusCode == HttpStatusCode.OK, $"GET {name}: {(int)read.StatusCode} {body}");
        using var secret = JsonDocument.Parse(body);
        return secret.RootElement.GetProperty("data").GetProperty("k").GetString();
    }
}
