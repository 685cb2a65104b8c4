using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// An etcd restored with <c>etcdctl snapshot restore</c> from a snapshot older than what a running trousseaud has
/// seen, as docs/reference.md describes it: what the clients and the operator see.
/// </summary>
public sealed class EtcdSnapshotRestoreTests : IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task An_etcd_restored_from_an_older_snapshot_serves_the_snapshot_and_trousseaud_reports_and_logs_once_that_etcd_went_back()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--Trousseau:Store=etcd", $"--Trousseau:Etcd:Endpoints:0={etcd.ClientUrl}"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        var kept = await WriteAsync(http, HttpMethod.Post, "v1/secrets", """{"name":"snap/kept","data":{"k":"old"}}""");
        var snapshot = _temp.Combine("snapshot.db");
        await etcd.SaveSnapshotAsync(snapshot);
        var updated = await WriteAsync(http, HttpMethod.Put, "v1/secrets/snap/kept", """{"data":{"k":"new"}}""");
        var createdSince = await WriteAsync(http, HttpMethod.Post, "v1/secrets", """{"name":"snap/since","data":{"k":"v"}}""");

        await etcd.StopAsync();
        await etcd.StartFromSnapshotAsync(snapshot, clusterToken: "etcd-cluster");
        var store = await Eventually.ReturnsAsync(
            () => StoreCheckAsync(http),
            check => check.Status != "healthy",
            awaited: "the store check of /readyz to say that etcd went back",
            show: check => $"{check}\n{server.Log}");
        using var readBack = await http.GetAsync(new Uri("v1/secrets/snap/kept", UriKind.Relative));
        using var gone = await http.GetAsync(new Uri("v1/secrets/snap/since", UriKind.Relative));
        var listing = await http.GetStringAsync(new Uri("v1/secrets?prefix=snap/", UriKind.Relative));
        using var stale = new HttpRequestMessage(HttpMethod.Put, new Uri("v1/secrets/snap/kept", UriKind.Relative))
        {
            Content = new StringContent("""{"data":{"k":"stale"}}""", Encoding.UTF8, "application/json"),
            Headers = { { "If-Match", $"\"{updated}\"" } },
        };
        using var staleAnswer = await http.SendAsync(stale);
        using var health = await server.Http.GetAsync(new Uri(server.BaseAddress, "readyz"));
        await Eventually.HoldsAsync(
            () => server.Log.Contains("Store etcd is degraded: ", StringComparison.Ordinal),
            () => server.Log,
            awaited: "trousseaud's log to say that the store is degraded");

        Assert.Equal(("degraded", HttpStatusCode.OK), (store.Status, health.StatusCode));
        Assert.Contains($"etcd went back from revision {createdSince} to revision {kept} since trousseaud connected", store.Description, StringComparison.Ordinal);
        Assert.Single(server.Log.Split('\n'), line => line.Contains("Store etcd is degraded: ", StringComparison.Ordinal));
        using var secret = JsonDocument.Parse(await readBack.Content.ReadAsStringAsync());
        Assert.Equal(("old", kept), (secret.RootElement.GetProperty("data").GetProperty("k").GetString(), secret.RootElement.GetProperty("revision").GetInt64()));
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal(["snap/kept"], JsonDocument.Parse(listing).RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()));
        Assert.Equal(HttpStatusCode.PreconditionFailed, staleAnswer.StatusCode);
    }

    /// <summary>Sends a write and returns the revision of its answer, failing the test unless it is a 2xx.</summary>
    private static async Task<long> WriteAsync(HttpClient http, HttpMethod method, string path, string body)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var answer = await http.SendAsync(request);
        var text = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.IsSuccessStatusCode, $"{method} {path}: {(int)answer.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.GetProperty("revision").GetInt64();
    }

    private static async Task<(string Status, string Description)> StoreCheckAsync(HttpClient http)
    {
        using var ready = await http.GetAsync(new Uri("readyz", UriKind.Relative));
        using var report = JsonDocument.Parse(await ready.Content.ReadAsStringAsync());
        var store = report.RootElement.GetProperty("checks").GetProperty("store");
        return (store.GetProperty("status").GetString()!, store.GetProperty("description").GetString()!);
    }
}
