using System.Net;
using System.Text;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;
using Trousseau.Tests.StoreContract;
using Xunit.Abstractions;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>
/// A trousseaud that runs for months sees its etcd restart many times: each restart must leave it holding what it
/// held after the first one, not a socket, a pipe or a thread more per restart. trousseaud runs on a real etcd with
/// the Vault test server as key provider; etcd is killed and started again, and after each restart the test waits
/// until a write is acknowledged again. Open file descriptors are counted (not timed) after the first restart and
/// after the last, with <c>/readyz</c> 200 each time.
/// </summary>
public sealed class EtcdRestartLeakTests(ITestOutputHelper output) : IDisposable
{
    private const int Restarts = 12;

    /// <summary>
    /// How many more descriptors the last restart may leave than the first: a connection or two that a pool opened
    /// or closed meanwhile, far fewer than one per restart.
    /// </summary>
    private const int Slack = 5;

    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: needs etcd, and the in-repo Vault test server.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason ?? VaultTarget.TestServerSkipReason;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task Twelve_etcd_restarts_leave_trousseaud_holding_no_more_descriptors_than_the_first_did()
    {
        await using var vault = await VaultTestServer.StartAsync();
        vault.CreateKey("restarts");
        var tokenFile = _temp.Combine("vault-token");
        await File.WriteAllTextAsync(tokenFile, vault.RootToken);
        await using var etcd = await EtcdProcess.StartAsync();
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir,
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={vault.Address}",
            "--Trousseau:Vault:KeyName=restarts",
            $"--Trousseau:Vault:Auth:TokenFile={tokenFile}",
            "--Trousseau:Store=etcd",
            $"--Trousseau:Etcd:Endpoints:0={etcd.ClientUrl}",
        ]);
        using var api = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        await WriteAsync(api, "before any restart");

        var figures = new List<ProcessFigures>();
        for (var restart = 1; restart <= Restarts; restart++)
        {
            await etcd.StopAsync();
            await etcd.StartAgainAsync();
            await WriteAsync(api, $"etcd's restart {restart}");
            if (restart == 1 || restart == Restarts)
            {
                await server.WaitForReadinessAsync(HttpStatusCode.OK);
                figures.Add(ProcessFigures.Of(server.ProcessId));
                output.WriteLine($"after restart {restart}: {figures[^1]}");
            }
        }

        var (first, last) = (figures[0], figures[^1]);
        Assert.True(
            last.Descriptors - first.Descriptors <= Slack,
            $"trousseaud held {first.Descriptors} descriptors after etcd's first restart and {last.Descriptors} after its {Restarts}th:\n  first: {first}\n  last:  {last}");
    }

    /// <summary>Updates one secret (created by the first call) until a write is acknowledged, as etcd comes back.</summary>
    private static Task WriteAsync(HttpClient api, string after) =>
        Eventually.ReturnsAsync(
            async () =>
            {
                using var response = await api.PutAsync(
                    new Uri("v1/secrets/restarts/one", UriKind.Relative), new StringContent("""{"data":{"k":"v"}}""", Encoding.UTF8, "application/json"));
                if (response.StatusCode == HttpStatusCode.NotFound)
                {
                    using var created = await api.PostAsync(
                        new Uri("v1/secrets", UriKind.Relative), new StringContent("""{"name":"restarts/one","data":{"k":"v"}}""", Encoding.UTF8, "application/json"));
                    return created.StatusCode;
                }

                return response.StatusCode;
            },
            status => status is HttpStatusCode.OK or HttpStatusCode.Created,
            TimeSpan.FromSeconds(60),
            $"a write acknowledged after {after}",
            status => $"{(int)status} {status}");
}
