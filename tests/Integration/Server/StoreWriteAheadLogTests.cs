using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>trousseaud's SQLite store when its write-ahead log (<c>store.db-wal</c>) is removed while it runs.</summary>
public sealed class StoreWriteAheadLogTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_write_ahead_log_removed_while_trousseaud_runs_turns_the_store_unhealthy_refuses_writes_and_a_crash_then_loses_no_acknowledged_write()
    {
        var dataDir = _temp.Combine("data");
        var storePath = Path.Combine(dataDir, "store.db");
        await using (var server = await TrousseauServerProcess.StartAsync(dataDir))
        {
            using var client = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
            using (var created = await client.PostAsJsonAsync("v1/secrets", new { name = "app/kept", type = "opaque", data = new { value = "acknowledged" } }))
            {
                Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            }

            File.Delete(storePath + "-wal");
            await server.WaitForReadinessAsync(HttpStatusCode.ServiceUnavailable);
            using var refused = await client.PostAsJsonAsync("v1/secrets", new { name = "app/later", type = "opaque", data = new { value = "refused" } });

            var problem = await Problems.AssertAsync(refused, HttpStatusCode.ServiceUnavailable);
            Assert.StartsWith($"The SQLite store '{storePath}' lost its write-ahead log", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            await server.KillAsync();
        }

        await using var restarted = await TrousseauServerProcess.StartAsync(dataDir);
        using var reader = await BearerClient.FromTokenFileAsync(restarted.BaseAddress, Path.Combine(dataDir, "api.token"));
        var kept = await reader.GetFromJsonAsync<JsonDocument>("v1/secrets/app/kept");
        Assert.Equal("acknowledged", kept!.RootElement.GetProperty("data").GetProperty("value").GetString());
    }
}
