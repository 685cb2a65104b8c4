using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Audit;

/// <summary>
/// A caller that goes away while its write is in etcd's hands: etcd applies the write all the same, and the audit trail
/// must say so, with the revision the secret now has, not that nothing was done.
/// </summary>
public sealed class AuditAbandonedWriteTests : IDisposable
{
    private const string Name = "audit/abandoned";

    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task An_update_whose_caller_went_away_after_etcd_applied_it_has_an_audit_line_with_the_revision_it_made()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await using var proxy = AnswerDroppingProxy.Start(etcd.ClientUrl);
        var dataDir = _temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir, ["--Trousseau:Store=etcd", $"--Trousseau:Etcd:Endpoints:0={proxy.Url}", "--Trousseau:Kms:Enabled=false"]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), Json($$$"""{"name":"{{{Name}}}","data":{"k":"before"}}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var before = await ModRevisionAsync(etcd);

        // etcd applies the update but its answer never comes back; the caller gives up once etcd holds the new record.
        proxy.DropAnswers();
        using var giveUp = new CancellationTokenSource();
        using var update = new HttpRequestMessage(HttpMethod.Put, new Uri("v1/secrets/" + Name, UriKind.Relative)) { Content = Json("""{"data":{"k":"after"}}""") };
        var sent = http.SendAsync(update, giveUp.Token);
        await Eventually.HoldsAsync(async () => await ModRevisionAsync(etcd) != before, awaited: "etcd to apply the update");
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sent);
        proxy.CutAndHeal();

        var line = await Eventually.ReturnsAsync(
            () => Task.FromResult(File.ReadLines(trail).Select(l => JsonDocument.Parse(l).RootElement).LastOrDefault(l => l.GetProperty("action").GetString() == "update")),
            l => l.ValueKind == JsonValueKind.Object,
            awaited: "the update's audit line",
            show: _ => server.Log);
        using var read = await http.GetAsync(new Uri("v1/secrets/" + Name, UriKind.Relative));
        var secret = JsonDocument.Parse(await read.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("after", secret.GetProperty("data").GetProperty("k").GetString());
        Assert.Equal(
            (Name, "ok", (long?)secret.GetProperty("revision").GetInt64()),
            (line.GetProperty("secret").GetString(), line.GetProperty("outcome").GetString(), line.GetProperty("revision").ValueKind == JsonValueKind.Number ? line.GetProperty("revision").GetInt64() : null));
    }

    private static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    /// <summary>The etcd revision of the secret's record, read with etcdctl past trousseaud and the relay.</summary>
    private static async Task<long> ModRevisionAsync(EtcdProcess etcd) =>
        JsonDocument.Parse(await etcd.CtlAsync("get", "/trousseau/" + Name, "-w", "json")).RootElement.GetProperty("kvs")[0].GetProperty("mod_revision").GetInt64();
}
