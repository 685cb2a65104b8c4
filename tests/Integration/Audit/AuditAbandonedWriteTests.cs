using System.Net;
using System.Text.Json;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Audit;

/// <summary>
/// A caller that goes away while its change is in a dependency's hands (a write in etcd's, a rotation in Vault's): the
/// dependency makes the change all the same, and the audit trail must say so (for a secret, with the revision it now
/// has), not that nothing was done.
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
        using (var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of($$$"""{"name":"{{{Name}}}","data":{"k":"before"}}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var before = await ModRevisionAsync(etcd);

        // etcd applies the update but its answer never comes back; the caller gives up once etcd holds the new record.
        proxy.DropAnswers();
        using var giveUp = new CancellationTokenSource();
        using var update = new HttpRequestMessage(HttpMethod.Put, new Uri("v1/secrets/" + Name, UriKind.Relative)) { Content = JsonBody.Of("""{"data":{"k":"after"}}""") };
        var sent = http.SendAsync(update, giveUp.Token);
        await Eventually.HoldsAsync(async () => await ModRevisionAsync(etcd) != before, awaited: "etcd to apply the update");
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sent);
        proxy.CutAndHeal();

        var line = await Eventually.ReturnsAsync(
            () => Task.FromResult(Records(trail).LastOrDefault(l => l.GetProperty("action").GetString() == "update")),
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

    [Fact]
    public async Task A_key_rotation_whose_caller_went_away_while_vault_rotated_the_key_has_an_audit_line_saying_it_was_done()
    {
        await using var vault = await VaultTestServer.StartAsync();
        vault.CreateKey("trousseau");
        var dataDir = _temp.Combine("data");
        var trail = Path.Combine(dataDir, "audit.log");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir,
        [
            "--Trousseau:KeyProvider=vault",
            $"--Trousseau:Vault:Address={vault.Address}",
            $"--Trousseau:Vault:Auth:Token={vault.CreateToken(TimeSpan.FromHours(1), TimeSpan.FromHours(2))}",
            "--Trousseau:Kms:Enabled=false",
        ]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        var before = await KeyIdAsync(http);

        // Vault rotates the key at once but its answer waits; the caller gives up meanwhile.
        var release = new TaskCompletionSource();
        vault.Hold = new VaultTestServer.VaultHold("/rotate", release.Task, Answered: true);
        using var giveUp = new CancellationTokenSource();
        var sent = http.PostAsync(new Uri("v1/keys/rotate", UriKind.Relative), JsonBody.Of("{}"), giveUp.Token);
        await Eventually.HoldsAsync(() => vault.Held == 1, awaited: "Vault to rotate the key");
        await giveUp.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sent);
        release.SetResult();

        var lines = await Eventually.ReturnsAsync(
            () => Task.FromResult(Records(trail).Where(l => l.GetProperty("action").GetString() == "keys").ToList()),
            keys => keys.Count == 2,
            awaited: "the audit lines of the key status read and of the rotation",
            show: _ => server.Log);
        Assert.NotEqual(before, await KeyIdAsync(http));
        Assert.Equal("ok", lines[1].GetProperty("outcome").GetString());
    }

    private static IEnumerable<JsonElement> Records(string trail) => File.ReadLines(trail).Select(line => JsonDocument.Parse(line).RootElement);

    private static async Task<string> KeyIdAsync(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync(new Uri("v1/keys", UriKind.Relative))).RootElement.GetProperty("keyId").GetString()!;


    /// <summary>The etcd revision of the secret's record, read with etcdctl past trousseaud and the relay.</summary>
    private static async Task<long> ModRevisionAsync(EtcdProcess etcd) =>
        JsonDocument.Parse(await etcd.CtlAsync("get", "/trousseau/" + Name, "-w", "json")).RootElement.GetProperty("kvs")[0].GetProperty("mod_revision").GetInt64();
}
