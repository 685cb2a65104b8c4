using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>The programs in <c>samples/</c> do what their READMEs say, run as real processes.</summary>
public sealed class SamplesTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Web_app_reads_its_login_from_trousseaud_as_configuration_and_sees_an_update()
    {
        const string Password = "sample-canary-93be0d";
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        var tokenFile = Path.Combine(dataDir, "api.token");
        using var http = new HttpClient { BaseAddress = server.BaseAddress };
        var broker = new TrousseauClient(http, await BearerClient.ReadTokenAsync(tokenFile));
        await broker.CreateSecretAsync("db/orders", SecretType.Login, Login("orders", Password));

        await using var app = await TrousseauServerProcess.StartHostAsync(
            RepositoryPaths.WebAppSampleDll,
            _temp.Path,
            ["--Broker:Server", server.BaseAddress.ToString(), "--Broker:TokenFile", tokenFile, "--Broker:ReloadInterval", "00:00:00.200"],
            probe: "");
        var first = await app.Http.GetStringAsync(app.BaseAddress);
        Assert.Equal("orders", Json(first).GetProperty("username").GetString());
        Assert.True(Json(first).GetProperty("passwordSet").GetBoolean());
        Assert.DoesNotContain(Password, first, StringComparison.Ordinal);

        await broker.UpdateSecretAsync("db/orders", Login("orders-v2", Password + "-rotated"));

        await Eventually.HoldsAsync(async () => Json(await app.Http.GetStringAsync(app.BaseAddress)).GetProperty("username").GetString() == "orders-v2");
        Assert.DoesNotContain(Password, app.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Web_app_started_while_trousseaud_is_down_answers_503_with_a_one_line_reason_and_serves_the_login_once_it_is_back()
    {
        var dataDir = _temp.Combine("data");
        var brokerListener = ServerListener.Loopback();
        var tokenFile = Path.Combine(dataDir, "api.token");
        await using (var server = await TrousseauServerProcess.StartAsync(dataDir, listener: brokerListener))
        {
            using var http = new HttpClient { BaseAddress = server.BaseAddress };
            await new TrousseauClient(http, await BearerClient.ReadTokenAsync(tokenFile)).CreateSecretAsync("db/orders", SecretType.Login, Login("orders", "sample-canary-5d01c2"));
        }

        var appListener = ServerListener.Loopback();
        var starting = TrousseauServerProcess.StartHostAsync(
            RepositoryPaths.WebAppSampleDll,
            _temp.Path,
            ["--Broker:Server", brokerListener.BaseAddress.ToString(), "--Broker:TokenFile", tokenFile, "--Broker:ReloadInterval", "00:00:00.200"],
            probe: "",
            listener: appListener);
        using var client = appListener.CreateClient();
        await Eventually.HoldsAsync(async () =>
        {
            if (starting.IsCompleted)
            {
                // It exited (or, the broker being down, served the login): either way the test fails here, saying why.
                await using var done = await starting;
                Assert.Fail($"the app answered 200 with the broker down:\n{done.Log}");
            }

            try
            {
                using var answer = await client.GetAsync(appListener.BaseAddress);
                return answer.StatusCode == HttpStatusCode.ServiceUnavailable;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        });

        await using var restarted = await TrousseauServerProcess.StartAsync(dataDir, listener: brokerListener);
        await using var app = await starting;
        var served = await app.Http.GetStringAsync(app.BaseAddress);
        Assert.Equal("orders", Json(served).GetProperty("username").GetString());
        Assert.Contains($"Cannot reach trousseaud at {brokerListener.BaseAddress}", app.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", app.Log, StringComparison.Ordinal);
        Assert.DoesNotContain("sample-canary-5d01c2", app.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Worker_seals_reports_that_its_key_ring_opens_and_its_stored_key_verifies()
    {
        string[] once = ["--Reports:Count", "1"];
        var firstRun = await ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.WorkerSampleDll, once, _temp.Path));
        var secondRun = await ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.WorkerSampleDll, once, _temp.Path));

        Assert.True(firstRun.ExitCode == 0, firstRun.Stdout + firstRun.Stderr);
        Assert.True(secondRun.ExitCode == 0, secondRun.Stdout + secondRun.Stderr);
        Assert.Contains("Generated signing key reports/signing-key", firstRun.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Generated signing key", secondRun.Stdout, StringComparison.Ordinal);

        var data = _temp.Combine(".trousseau-sample");
        var reports = Directory.GetFiles(Path.Combine(data, "reports"), "*.sealed");
        Assert.Equal(2, reports.Length);

        await using var provider = WorkerStore(data);
        var trousseau = provider.GetRequiredService<ITrousseau>();
        var signingKey = (await trousseau.GetSecretAsync("reports/signing-key")).Data["key"];
        Assert.Equal(64, signingKey.Length);
        Assert.DoesNotContain(signingKey, firstRun.Stdout + secondRun.Stdout, StringComparison.Ordinal);

        foreach (var report in reports)
        {
            var ciphertext = await File.ReadAllBytesAsync(report);
            var plaintext = Encoding.UTF8.GetString(await trousseau.DecryptAsync(ciphertext));
            Assert.StartsWith("orders processed by ", plaintext, StringComparison.Ordinal);
            Assert.DoesNotContain("orders processed", Encoding.Latin1.GetString(ciphertext), StringComparison.Ordinal);

            var signature = Convert.FromHexString(await File.ReadAllTextAsync(report + ".sig"));
            Assert.Equal(HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), ciphertext), signature);
        }
    }

    [Fact]
    public async Task A_worker_whose_data_directory_another_process_holds_exits_non_zero_with_one_line_saying_so()
    {
        var firstRun = await ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.WorkerSampleDll, ["--Reports:Count", "1"], _temp.Path));
        Assert.True(firstRun.ExitCode == 0, firstRun.Stdout + firstRun.Stderr);

        // Another process (this test) holds the worker's store, as a worker still running would.
        var data = _temp.Combine(".trousseau-sample");
        await using var provider = WorkerStore(data);
        await provider.GetRequiredService<ITrousseau>().GetSecretAsync("reports/signing-key");

        var second = await ChildProcess.RunAsync(DotnetProcess.StartInfo(RepositoryPaths.WorkerSampleDll, ["--Reports:Count", "1"], _temp.Path));

        Assert.NotEqual(0, second.ExitCode);
        var said = (second.Stdout + second.Stderr).Trim();
        Assert.DoesNotContain('\n', said);
        Assert.StartsWith("Worker: ", said, StringComparison.Ordinal);
        Assert.Contains("is in use by another process", said, StringComparison.Ordinal);
    }

    private static Dictionary<string, string> Login(string username, string password) => new()
    {
        ["username"] = username,
        ["password"] = password,
        ["endpoint"] = "postgres://db:5432/orders",
    };

    private static JsonElement Json(string body)
    {
        using var document = JsonDocument.Parse(body);
        return document.RootElement.Clone();
    }

    /// <summary>Trousseau over the Worker sample's data directory, as the sample itself opens it.</summary>
    private static ServiceProvider WorkerStore(string data)
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = Path.Combine(data, "local.keyring"))
            .UseSqliteStore(sqlite => sqlite.Path = Path.Combine(data, "secrets.db"));
        return services.BuildServiceProvider();
    }
}
