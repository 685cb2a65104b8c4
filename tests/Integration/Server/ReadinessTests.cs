using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>/readyz tells what a probe needs without costing a dependency call per hit, and details only to the token's holder.</summary>
public sealed class ReadinessTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Readiness_answers_from_the_background_check_so_probes_never_call_vault_themselves()
    {
        // A "Vault" that accepts connections and closes them at once, counting each.
        using var vault = new TcpListener(IPAddress.Loopback, 0);
        vault.Start();
        var connections = 0;
        var accepting = Task.Run(async () =>
        {
            while (true)
            {
                using var client = await vault.AcceptTcpClientAsync();
                Interlocked.Increment(ref connections);
            }
        });

        await using var server = await TrousseauServerProcess.StartAsync(
            _temp.Combine("data"),
            ["--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address=http://127.0.0.1:{((IPEndPoint)vault.LocalEndpoint).Port}", "--Trousseau:Vault:Auth:Token=t"]);
        await Eventually.HoldsAsync(() => Volatile.Read(ref connections) > 0);

        var before = Volatile.Read(ref connections);
        for (var i = 0; i < 60; i++)
        {
            using var ready = await server.Http.GetAsync(new Uri(server.BaseAddress, "readyz"));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        // Sixty probes; at most one background round (with its retries) can fall inside them.
        var afterProbes = Volatile.Read(ref connections);
        Assert.InRange(afterProbes - before, 0, 6);

        using var live = await server.Http.GetAsync(new Uri(server.BaseAddress, "healthz"));
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);

        // The count above is worth something only if "Vault" was counting all along: the next background round reaches it.
        await Eventually.HoldsAsync(
            () => Volatile.Read(ref connections) > afterProbes,
            () => $"no background check reached the fake Vault after the probes (its accept loop: {accepting.Status}, {accepting.Exception?.InnerException?.Message})");
    }

    [Fact]
    public async Task A_first_readyz_asked_while_vault_accepts_connections_but_never_answers_says_so_not_that_nothing_was_checked()
    {
        // A "Vault" that accepts connections and never answers.
        using var vault = new TcpListener(IPAddress.Loopback, 0);
        vault.Start();
        var connections = 0;
        var accepting = Task.Run(async () =>
        {
            var held = new List<TcpClient>();
            while (true)
            {
                held.Add(await vault.AcceptTcpClientAsync());
                Interlocked.Increment(ref connections);
            }
        });

        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir,
            [
                "--Trousseau:KeyProvider=vault", $"--Trousseau:Vault:Address=http://127.0.0.1:{((IPEndPoint)vault.LocalEndpoint).Port}", "--Trousseau:Vault:Auth:Token=t",
                "--Trousseau:Vault:Timeout=00:01:00", "--Trousseau:Vault:AttemptTimeout=00:01:00", "--Trousseau:Kms:Enabled=false",
            ]);

        // The start does not wait for the first check; the first readiness answer does, so it is the check's own.
        using var holder = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var ready = await holder.GetAsync(new Uri("readyz", UriKind.Relative));
        using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Equal("no answer within 4 s", report.RootElement.GetProperty("checks").GetProperty("key-provider").GetProperty("description").GetString());
        Assert.True(Volatile.Read(ref connections) > 0, $"the fake Vault saw no connection (its accept loop: {accepting.Status})");
    }

    [Fact]
    public async Task Check_details_are_shown_only_to_a_caller_with_the_api_token()
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir);

        using var holder = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using var stranger = BearerClient.Create(server.BaseAddress, "not-the-token");
        var anonymous = await ReadyAsync(server.Http);
        var withToken = await ReadyAsync(holder);
        var withWrongToken = await ReadyAsync(stranger);

        foreach (var report in new[] { anonymous, withWrongToken })
        {
            Assert.Equal("healthy", report.GetProperty("checks").GetProperty("key-provider").GetProperty("status").GetString());
            Assert.False(report.GetProperty("checks").GetProperty("key-provider").TryGetProperty("description", out _));
            Assert.DoesNotContain("local-", report.GetRawText(), StringComparison.Ordinal);
            Assert.DoesNotContain(dataDir, report.GetRawText(), StringComparison.Ordinal);
        }

        Assert.Contains("current key local-", withToken.GetProperty("checks").GetProperty("key-provider").GetProperty("description").GetString(), StringComparison.Ordinal);
        Assert.Contains(dataDir, withToken.GetProperty("checks").GetProperty("store").GetProperty("description").GetString(), StringComparison.Ordinal);
    }

    private static async Task<JsonElement> ReadyAsync(HttpClient http)
    {
        using var response = await http.GetAsync(new Uri("readyz", UriKind.Relative));
        using var document = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return document.RootElement.Clone();
    }
}
