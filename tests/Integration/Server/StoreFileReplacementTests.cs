using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>The SQLite file replaced under a running trousseaud (a restore made without stopping it) loses no write.</summary>
public sealed class StoreFileReplacementTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_store_file_replaced_while_trousseaud_runs_makes_it_unready_and_refuse_writes_until_the_file_is_put_back()
    {
        var dataDir = _temp.Combine("data");
        var storePath = Path.Combine(dataDir, "store.db");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        using var client = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await client.PostAsJsonAsync("v1/secrets", new { name = "db/password", type = "opaque", data = new { value = "v1" } }))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var moved = _temp.Combine("moved.db");
        var restored = _temp.Combine("restored.db");
        File.Copy(storePath, restored);
        File.Move(storePath, moved);
        File.Move(restored, storePath);

        using (var refused = await client.PutAsJsonAsync("v1/secrets/db/password", new { data = new { value = "v2" } }))
        {
            var problem = await Problems.AssertAsync(refused, HttpStatusCode.ServiceUnavailable);
            Assert.StartsWith($"The SQLite store '{storePath}' is no longer the file this store opened: it was replaced", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        await Eventually.HoldsAsync(async () => await StoreStatusAsync(client) == "unhealthy");

        File.Move(storePath, restored);
        File.Move(moved, storePath);
        using (var updated = await client.PutAsJsonAsync("v1/secrets/db/password", new { data = new { value = "v2" } }))
        {
            Assert.Equal(HttpStatusCode.OK, updated.StatusCode);
        }

        await Eventually.HoldsAsync(async () => await StoreStatusAsync(client) == "healthy");
        using var read = await client.GetFromJsonAsync<JsonDocument>("v1/secrets/db/password");
        Assert.Equal("v2", read!.RootElement.GetProperty("data").GetProperty("value").GetString());
    }

    private static async Task<string?> StoreStatusAsync(HttpClient client)
    {
        using var response = await client.GetAsync(new Uri("readyz", UriKind.Relative));
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return report.RootElement.GetProperty("checks").GetProperty("store").GetProperty("status").GetString();
    }
}
