using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>What survives a restart, what a SIGTERM does, and what never reaches the disk or the log.</summary>
public sealed class ServerLifecycleTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string DataDir => _temp.Combine("data");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Secrets_survive_a_restart_and_no_value_reaches_the_data_directory_or_the_log()
    {
        const string Password = "plaintext-canary-7f3a9c";
        string firstLog;
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            var clectl = ClectlRunner.For(server, DataDir, _temp.Path);
            ClectlAssert.Ok(await clectl.RunWithInputAsync(Password, "secret", "create", "db/login", "--type", "login", "--username", "app", "--password-stdin"));
            ClectlAssert.Ok(await clectl.RunAsync("secret", "generate", "db/generated", "--length", "40"));
            ClectlAssert.Ok(await clectl.RunAsync("secret", "get", "db/login"));
            Assert.Equal(0, await server.StopAsync());
            firstLog = server.Log;
        }

        await using var restarted = await TrousseauServerProcess.StartAsync(DataDir);
        var again = ClectlRunner.For(restarted, DataDir, _temp.Path);
        var password = await again.RunAsync("secret", "get", "db/login", "--key", "password");
        var generated = await again.RunAsync("secret", "get", "db/generated", "--key", "value");
        Assert.Equal(Password, password.Stdout);
        Assert.Equal(40, generated.Stdout.Length);
        Assert.Equal(0, await restarted.StopAsync());

        foreach (var file in Directory.EnumerateFiles(DataDir, "*", SearchOption.AllDirectories))
        {
            var bytes = Encoding.Latin1.GetString(await File.ReadAllBytesAsync(file));
            Assert.False(bytes.Contains(Password, StringComparison.Ordinal), $"{file} holds the password in plaintext");
            Assert.False(bytes.Contains(generated.Stdout, StringComparison.Ordinal), $"{file} holds the generated value in plaintext");
        }

        var token = await BearerClient.ReadTokenAsync(Path.Combine(DataDir, "api.token"));
        foreach (var log in new[] { firstLog, restarted.Log })
        {
            Assert.DoesNotContain(Password, log, StringComparison.Ordinal);
            Assert.DoesNotContain(generated.Stdout, log, StringComparison.Ordinal);
            Assert.DoesNotContain(token, log, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task The_token_file_is_created_owner_only_and_kept_across_restarts()
    {
        string token;
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            token = await File.ReadAllTextAsync(Path.Combine(DataDir, "api.token"));
            Assert.Equal(0, await server.StopAsync());
        }

        await using var restarted = await TrousseauServerProcess.StartAsync(DataDir);

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(DataDir, "api.token")));
        Assert.Equal(token, await File.ReadAllTextAsync(Path.Combine(DataDir, "api.token")));
        Assert.True(token.Trim().Length >= 40);
    }

    [Fact]
    public async Task The_temporary_token_files_a_start_killed_while_it_wrote_the_token_left_are_deleted_at_the_next_start()
    {
        // What a first start killed between writing the new token beside api.token and renaming it onto the path
        // leaves: a file holding a token that never took effect, one more at each such kill.
        Directory.CreateDirectory(DataDir);
        var tokenFile = Path.Combine(DataDir, "api.token");
        string[] leftovers = [$"{tokenFile}.{Guid.NewGuid():N}.tmp", $"{tokenFile}.{Guid.NewGuid():N}.tmp"];
        foreach (var leftover in leftovers)
        {
            await File.WriteAllTextAsync(leftover, "never-used-token\n");
        }

        await using var server = await TrousseauServerProcess.StartAsync(DataDir);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, tokenFile);
        using var whoami = await http.GetAsync(new Uri("v1/auth/whoami", UriKind.Relative));

        // Only the token's: the store may be creating store.db through a temporary file of its own at this moment.
        Assert.Equal(HttpStatusCode.OK, whoami.StatusCode);
        Assert.Equal([], Directory.EnumerateFiles(DataDir, "api.token.*.tmp").Select(Path.GetFileName));
    }

    [Fact]
    public async Task Sigterm_under_write_load_exits_0_and_keeps_every_acknowledged_write()
    {
        await using var server = await TrousseauServerProcess.StartAsync(DataDir);
        using var load = await WriteLoad.StartAsync(server, DataDir);

        await load.WaitForAcknowledgedAsync(3);
        var exitCode = await server.StopAsync();
        var acknowledged = await load.StopAsync();

        Assert.Equal(0, exitCode);
        await AssertAllReadableAsync(acknowledged);
    }

    [Fact]
    public async Task A_crash_mid_write_loses_no_acknowledged_write_and_leaves_no_torn_record()
    {
        await using var server = await TrousseauServerProcess.StartAsync(DataDir);
        using var load = await WriteLoad.StartAsync(server, DataDir);

        await load.WaitForAcknowledgedAsync(5);
        await server.KillAsync();
        var acknowledged = await load.StopAsync();

        await AssertAllReadableAsync(acknowledged);
    }

    private async Task AssertAllReadableAsync(IReadOnlyCollection<string> acknowledged)
    {
        await using var restarted = await TrousseauServerProcess.StartAsync(DataDir);
        var clectl = ClectlRunner.For(restarted, DataDir, _temp.Path);
        var list = await clectl.RunAsync("secret", "list", "--prefix", "load/", "-o", "json");
        ClectlAssert.Ok(list);
        using var listed = System.Text.Json.JsonDocument.Parse(list.Stdout);
        var names = listed.RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToList();

        Assert.Subset(names.ToHashSet(), acknowledged.ToHashSet());
        foreach (var name in names)
        {
            var value = await clectl.RunAsync("secret", "get", name, "--key", "v");
            ClectlAssert.Ok(value);
            Assert.Equal(WriteLoad.ValueLength, value.Stdout.Length);
        }
    }

    /// <summary>Creates large secrets as fast as the server takes them and remembers which ones it acknowledged.</summary>
    private sealed class WriteLoad : IDisposable
    {
        public const int ValueLength = 900 * 1024;

        private readonly HttpClient _http;
        private readonly List<string> _acknowledged = [];
        private readonly CancellationTokenSource _stop = new();
        private Task _writer = Task.CompletedTask;

        private WriteLoad(HttpClient http) => _http = http;

        public static async Task<WriteLoad> StartAsync(TrousseauServerProcess server, string dataDir)
        {
            var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
            var load = new WriteLoad(http);
            load._writer = Task.Run(load.RunAsync);
            return load;
        }

        private int Acknowledged
        {
            get
            {
                lock (_acknowledged)
                {
                    return _acknowledged.Count;
                }
            }
        }

        public Task WaitForAcknowledgedAsync(int count) =>
            Eventually.HoldsAsync(() => Acknowledged >= count, () => $"{Acknowledged} writes acknowledged", TimeSpan.FromSeconds(60));

        public async Task<IReadOnlyCollection<string>> StopAsync()
        {
            await _stop.CancelAsync();
            await _writer;
            lock (_acknowledged)
            {
                return [.. _acknowledged];
            }
        }

        public void Dispose()
        {
            _http.Dispose();
            _stop.Dispose();
        }

        private async Task RunAsync()
        {
            var value = new string('x', ValueLength);
            for (var i = 0; !_stop.IsCancellationRequested; i++)
            {
                var name = $"load/{i:D5}";
                using var body = new StringContent($"{{\"name\":\"{name}\",\"type\":\"opaque\",\"data\":{{\"v\":\"{value}\"}}}}", Encoding.UTF8, "application/json");
                try
                {
                    using var response = await _http.PostAsync(new Uri("v1/secrets", UriKind.Relative), body, _stop.Token);
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        lock (_acknowledged)
                        {
                            _acknowledged.Add(name);
                        }
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
