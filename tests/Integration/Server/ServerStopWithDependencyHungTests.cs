using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// A stop (SIGTERM, as a supervisor sends it) while trousseaud's calls wait on a Vault that has taken the wrap of
/// their data key and never answers it: every call in flight gets an answer, and trousseaud exits within the stop's
/// time.
/// </summary>
public sealed class ServerStopWithDependencyHungTests : IDisposable
{
    private const int Calls = 20;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Sigterm_while_calls_wait_on_a_hung_vault_answers_each_503_and_exits_0_removing_the_socket_with_an_intact_audit_trail()
    {
        await using var vault = await VaultTestServer.StartAsync();
        vault.CreateKey("trousseau");
        var token = vault.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(2));
        var release = new TaskCompletionSource();
        var dataDir = _temp.Combine("data");

        // The calls share the one wrap Vault holds: given 30 s in one attempt (within the KMS plugin's own limit), it
        // outlasts the 5 s a stop waits for calls still under way.
        await using var server = await TrousseauServerProcess.StartAsync(dataDir,
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={vault.Address}",
            $"--Trousseau:Vault:Auth:Token={token}",
            "--Trousseau:Vault:Timeout=00:00:30",
            "--Trousseau:Vault:AttemptTimeout=00:00:30",
            "--Trousseau:Kms:ProviderTimeout=00:00:30",
        ]);
        await server.WaitForReadinessAsync(HttpStatusCode.OK);
        vault.Hold = new VaultTestServer.VaultHold("transit/encrypt/", release.Task);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"), TimeSpan.FromSeconds(90));
        var calls = Enumerable.Range(0, Calls)
            .Select(i => http.PostAsJsonAsync("v1/encrypt", new { plaintext = Convert.ToBase64String([(byte)i]) }))
            .ToList();
        await Eventually.HoldsAsync(
            async () => await ActivePostsAsync(server) == Calls,
            () => $"trousseaud did not hold the {Calls} calls at once:\n{server.Log}");

        Assert.Equal(0, await server.StopAsync());
        release.SetResult();

        var details = new List<string>();
        foreach (var call in calls)
        {
            using var answer = await call;
            details.Add((await Problems.AssertAsync(answer, HttpStatusCode.ServiceUnavailable)).GetProperty("detail").GetString()!);
        }

        Assert.Contains(details, detail => detail.StartsWith("The server is stopping, and this call was still waiting", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(dataDir, "kms.sock")), "the KMS socket was left behind");
        ClectlAssert.Ok(await new ClectlRunner(_temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", Path.Combine(dataDir, "audit.log")));
        Assert.DoesNotContain(token, server.Log, StringComparison.Ordinal);
    }

    /// <summary>The POST requests trousseaud is serving now, as its <c>/metrics</c> says.</summary>
    private static async Task<int> ActivePostsAsync(TrousseauServerProcess server)
    {
        var metrics = await server.Http.GetStringAsync(new Uri(server.BaseAddress, "metrics"));
        return metrics.Split('\n')
            .Where(line => line.StartsWith("http_server_active_requests{", StringComparison.Ordinal) && line.Contains("http_request_method=\"POST\"", StringComparison.Ordinal))
            .Sum(line => (int)double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
    }
}
