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
            Ok(await clectl.RunWithInputAsync(Password, "secret", "create", "db/login", "--type", "login", "--username", "app", "--password-stdin"));
            Ok(await clectl.RunAsync("secret", "generate", "db/generated", "--length", "40"));
            Ok(await clectl.RunAsync("secret", "get", "db/login"));
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

        var token = (await File.ReadAllTextAsync(Path.Combine(DataDir, "api.token"))).Trim();
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
    public async Task Sigterm_under_write_load_exits_0_and_keeps_every_acknowledged_write()
    {
        await using var server = await TrousseauServerProcess.StartAsync(DataDir);
        var token = (await File.ReadAllTextAsync(Path.Combine(DataDir, "api.token"))).Trim();
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var big = new string('x', 900 * 1024);

        using var writes = new CancellationTokenSource();
        var acknowledged = new List<string>();
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !writes.IsCancellationRequested; i++)
            {
                var name = $"inflight/{i}";
                using var body = new StringContent($"{{\"name\":\"{name}\",\"type\":\"opaque\",\"data\":{{\"v\":\"{big}\"}}}}", Encoding.UTF8, "application/json");
                try
                {
                    using var response = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), body);
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        lock (acknowledged)
                        {
                            acknowledged.Add(name);
                        }
                    }
                }
                catch (HttpRequestException)
                {
                    return;
                }
            }
        });

        await WaitUntilAsync(() => { lock (acknowledged) { return acknowledged.Count >= 3; } });
        var exitCode = await server.StopAsync();
        await writes.CancelAsync();
        await writer;

        Assert.Equal(0, exitCode);
        await using var restarted = await TrousseauServerProcess.StartAsync(DataDir);
        var clectl = ClectlRunner.For(restarted, DataDir, _temp.Path);
        foreach (var name in acknowledged)
        {
            Assert.Equal(big.Length, (await clectl.RunAsync("secret", "get", name, "--key", "v")).Stdout.Length);
        }
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }

    private static void Ok(ProcessResult result) => Assert.True(result.ExitCode == 0, $"clectl exited {result.ExitCode}: {result.Stderr}");
}
