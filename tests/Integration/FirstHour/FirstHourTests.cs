using System.Net;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.FirstHour;

/// <summary>
/// A new user's first hour: the README's commands and the samples' READMEs, run by bash exactly as written, from the
/// root of a clean copy of the repository (nothing built, no data directory), with nothing set in the environment.
/// </summary>
public sealed class FirstHourTests : IDisposable
{
    private static readonly TimeSpan BuildAndRun = TimeSpan.FromMinutes(6);

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_readme_session_and_both_samples_work_exactly_as_written_in_a_clean_copy()
    {
        var copy = await CleanCopy.CreateAsync(_temp.Combine("repository"));
        var scratch = Directory.CreateDirectory(_temp.Combine("scratch")).FullName;
        var environment = new Dictionary<string, string?>
        {
            ["TROUSSEAU_HOME"] = null,
            ["TROUSSEAU_SERVER"] = null,
            ["TROUSSEAU_TOKEN"] = null,
            ["XDG_CONFIG_HOME"] = _temp.Combine("config"),
            ["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1",
            ["DOTNET_NOLOGO"] = "1",
        };

        var readme = copy.ShellBlocks("README.md");
        var run = Assert.Single(readme, b => b.Code.Trim() == "dotnet run --project src/Trousseau.Server").Code;
        var session = Assert.Single(readme, b => b.Heading == "A first session with clectl").Code;
        var samples = copy.ShellBlocks("samples/README.md");
        var webApp = Assert.Single(samples, b => b.Heading.StartsWith("WebApp", StringComparison.Ordinal)).Code;
        var worker = Assert.Single(samples, b => b.Heading.StartsWith("Worker", StringComparison.Ordinal)).Code;

        await using (var server = await StartServerAsync(run, copy, scratch, environment))
        {
            await using var script = ShellScript.Start(session, copy.Root, scratch, environment);
            Assert.True(await script.WaitAsync(BuildAndRun) == 0, $"the README session failed:\n{script.Stdout}\n{script.Stderr}\nserver:\n{server.Stdout}{server.Stderr}");

            Assert.Contains("orders-Pa55word", script.Stdout, StringComparison.Ordinal);
            Assert.Contains("db/orders", script.Stdout, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(copy.Root, ".trousseau", "api.token")), "the data directory is not ./.trousseau");
            Assert.Contains(Path.Combine(copy.Root, ".trousseau", "api.token"), server.Stdout, StringComparison.Ordinal);
        }

        // The samples' README, as a user who did not follow the README session: a fresh data directory.
        Directory.Delete(Path.Combine(copy.Root, ".trousseau"), recursive: true);
        await using (var server = await StartServerAsync(run, copy, scratch, environment))
        {
            var path = Path.Combine(copy.Root, ".clectl") + ":" + Environment.GetEnvironmentVariable("PATH");
            await using var script = ShellScript.Start(webApp, copy.Root, scratch, new Dictionary<string, string?>(environment) { ["PATH"] = path });
            Assert.True(await script.WaitAsync(BuildAndRun) == 0, $"the WebApp sample failed:\n{script.Stdout}\n{script.Stderr}");
            Assert.Contains("{\"username\":\"orders\",\"endpoint\":null,\"passwordSet\":true}", script.Stdout, StringComparison.Ordinal);
            Assert.DoesNotContain("s3cr3t", script.Stdout, StringComparison.Ordinal);
        }

        await using (var script = ShellScript.Start(worker, copy.Root, scratch, environment))
        {
            Assert.True(await script.WaitAsync(BuildAndRun) == 0, $"the Worker sample failed:\n{script.Stdout}\n{script.Stderr}");
            var listed = script.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(3, listed.Count(f => f.EndsWith(".sealed", StringComparison.Ordinal)));
            Assert.Equal(3, listed.Count(f => f.EndsWith(".sealed.sig", StringComparison.Ordinal)));
        }
    }

    private static async Task<ShellScript> StartServerAsync(string run, CleanCopy copy, string scratch, Dictionary<string, string?> environment)
    {
        AssertReadmePortIsFree();
        var server = ShellScript.Start(run, copy.Root, scratch, environment);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        try
        {
            await Eventually.ReturnsAsync(
                async () =>
                {
                    try
                    {
                        using var response = await http.GetAsync(new Uri("http://127.0.0.1:8787/healthz"));
                        return (HttpStatusCode?)response.StatusCode;
                    }
                    catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                    {
                        // Not listening yet: dotnet run is still building.
                        return null;
                    }
                },
                status => status == HttpStatusCode.OK,
                BuildAndRun,
                "trousseaud, started with dotnet run, to answer http://127.0.0.1:8787/healthz with 200",
                status => $"{(status is null ? "no answer" : $"{(int)status}")}; the commands printed:\n{server.Stdout}\n{server.Stderr}");
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The README's trousseaud listens on 127.0.0.1:8787; another process there (a trousseaud left running) would
    /// answer the session in its place, with a token the session cannot find.
    /// </summary>
    private static void AssertReadmePortIsFree()
    {
        using var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 8787);
        try
        {
            probe.Start();
        }
        catch (System.Net.Sockets.SocketException e)
        {
            Assert.Fail($"127.0.0.1:8787, where the README's trousseaud listens, is taken by another process ({e.SocketErrorCode}); stop it and run the test again.");
        }
        finally
        {
            probe.Stop();
        }
    }
}
