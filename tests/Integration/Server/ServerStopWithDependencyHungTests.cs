using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// A stop (SIGTERM, as a supervisor sends it) while trousseaud's calls wait on a Vault that accepts connections and
/// never answers: every call in flight gets an answer, and trousseaud exits within the stop's time.
/// </summary>
public sealed class ServerStopWithDependencyHungTests : IDisposable
{
    // Calls enough that those still waiting behind one another on the hung Vault (each Vault call gives up after
    // Trousseau:Vault:Timeout, 2 s) outlast the host's 30 s shutdown timeout.
    private const int Calls = 20;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Sigterm_while_calls_wait_on_a_hung_vault_answers_each_503_and_exits_0_removing_the_socket_with_an_intact_audit_trail()
    {
        using var vault = TcpStandIn.Silent();
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir,
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={vault.BaseAddress}",
            "--Trousseau:Vault:Auth:Token=hvs.stop-test-token",
        ]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"), TimeSpan.FromSeconds(90));
        var calls = Enumerable.Range(0, Calls)
            .Select(i => http.PostAsJsonAsync("v1/encrypt", new { plaintext = Convert.ToBase64String([(byte)i]) }))
            .ToList();
        await Eventually.HoldsAsync(
            async () => await ActivePostsAsync(server) == Calls,
            () => $"trousseaud did not hold the {Calls} calls at once:\n{server.Log}");

        Assert.Equal(0, await server.StopAsync());

        var details = new List<string>();
        foreach (var call in calls)
        {
            using var answer = await call;
            details.Add((await Problems.AssertAsync(answer, HttpStatusCode.ServiceUnavailable)).GetProperty("detail").GetString()!);
        }

        Assert.Contains(details, detail => detail.StartsWith("The server is stopping, and this call was still waiting", StringComparison.Ordinal));
        Assert.False(File.Exists(Path.Combine(dataDir, "kms.sock")), "the KMS socket was left behind");
        ClectlAssert.Ok(await new ClectlRunner(_temp.Path, new Dictionary<string, string?>()).RunAsync("audit", "verify", Path.Combine(dataDir, "audit.log")));
        Assert.DoesNotContain("stop-test-token", server.Log, StringComparison.Ordinal);
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
