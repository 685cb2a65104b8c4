using System.Net;
using System.Text;
using System.Text.Json;
using Trousseau.Tests.Integration.Docs;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.KeyRing;

/// <summary>
/// The data directory's backup and restore of docs/reference.md, run as written while trousseaud writes, and what a
/// key ring restored from before a rotation says.
/// </summary>
public sealed class DataDirectoryBackupTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    private string DataDir => _temp.Combine("data");

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_backup_taken_while_trousseaud_runs_restores_every_secret_it_held_after_a_crash_left_a_newer_write_ahead_log()
    {
        var (backup, restore) = DocumentedShell.BackupAndRestore("Data directory: backup and restore");
        var environment = new Dictionary<string, string?>
        {
            ["TROUSSEAU_HOME"] = DataDir,
            ["BACKUP"] = _temp.Combine("backup"),
        };
        Directory.CreateDirectory(_temp.Combine("backup"));

        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            var clectl = Clectl(server);
            ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "before", "--from-literal", "k=before"));
            ClectlAssert.Ok(await clectl.RunAsync("key", "rotate"));
            ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "after", "--from-literal", "k=after"));
            await DocumentedShell.RunAsync(backup, _temp.Path, environment);
            ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "later", "--from-literal", "k=later"));
            await server.KillAsync();
        }

        Assert.True(
            File.Exists(Path.Combine(DataDir, "store.db-wal")),
            "a killed trousseaud should leave its write-ahead log");
        await DocumentedShell.RunAsync(restore, _temp.Path, environment);

        await using var restored = await TrousseauServerProcess.StartAsync(DataDir);
        var again = Clectl(restored);
        Assert.Equal("before", (await again.RunAsync("secret", "get", "before", "--key", "k")).Stdout);
        Assert.Equal("after", (await again.RunAsync("secret", "get", "after", "--key", "k")).Stdout);
        ClectlAssert.Fails(await again.RunAsync("secret", "get", "later"), 3);
        Assert.DoesNotContain("had mode", restored.Log, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_ring_restored_from_before_a_rotation_fails_each_secret_it_cannot_open_saying_to_put_back_a_newer_copy()
    {
        await RestoreAKeyRingFromBeforeARotationAsync();
        await using var restored = await TrousseauServerProcess.StartAsync(DataDir);
        var line = ClectlAssert.Fails(await Clectl(restored).RunAsync("secret", "get", "app/db"), 1);
        Assert.Contains("(version 2) is not in this key ring, whose newest version is 1", line, StringComparison.Ordinal);
        Assert.Contains("put back a copy of the key ring taken after version 2 was made", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_key_ring_restored_from_before_a_rotation_shows_on_readyz_and_in_clectl_health_as_degraded_naming_the_version_it_lacks()
    {
        await RestoreAKeyRingFromBeforeARotationAsync();
        await using var restored = await TrousseauServerProcess.StartAsync(DataDir);
        using var http = await BearerClient.FromTokenFileAsync(restored.BaseAddress, Path.Combine(DataDir, "api.token"));

        var readiness = await Eventually.ReturnsAsync(
            () => KeyProviderReadinessAsync(http),
            r => r.Status != "healthy",
            awaited: "the key-provider check of /readyz to say that the key ring lacks a version the store uses",
            show: r => $"{r}\n{restored.Log}");
        var health = await Clectl(restored).RunAsync("health");

        Assert.Equal(new KeyProviderReadiness(HttpStatusCode.OK, "degraded", readiness.Description), readiness);
        Assert.Contains("(version 2), which this key ring lacks", readiness.Description, StringComparison.Ordinal);
        Assert.Contains("put back a copy of the key ring taken after version 2 was made", readiness.Description, StringComparison.Ordinal);
        Assert.Contains("which this key ring lacks", health.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_rewrap_beside_a_key_ring_restored_from_before_a_rotation_counts_the_secrets_it_cannot_move_and_exits_1()
    {
        await RestoreAKeyRingFromBeforeARotationAsync();
        await using var restored = await TrousseauServerProcess.StartAsync(DataDir, ["--Trousseau:Worker:RewrapAfterRotation=false"]);
        var again = Clectl(restored);
        ClectlAssert.Ok(await again.RunAsync("secret", "create", "app/old", "--from-literal", "k=old"));
        ClectlAssert.Ok(await again.RunAsync("key", "rotate"));
        ClectlAssert.Ok(await again.RunAsync("secret", "create", "app/new", "--from-literal", "k=new"));

        using var http = await BearerClient.FromTokenFileAsync(restored.BaseAddress, Path.Combine(DataDir, "api.token"));
        using var answer = await http.PostAsync(new Uri("v1/keys/rewrap", UriKind.Relative), new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        using var counts = JsonDocument.Parse(await answer.Content.ReadAsStringAsync());
        Assert.Equal(1, counts.RootElement.GetProperty("rewrapped").GetInt64());
        Assert.Equal(1, counts.RootElement.GetProperty("skipped").GetInt64());
        Assert.Equal(1, counts.RootElement.GetProperty("failed").GetInt64());
        var keyId = counts.RootElement.GetProperty("keyId").GetString();

        var line = ClectlAssert.Fails(await again.RunAsync("key", "rewrap"), 1);
        Assert.Equal($"clectl: the rewrap to key {keyId} is not complete: 1 secret could not be rewrapped and stays under an older key (trousseaud's log names each and why, events 1204 to 1206); 0 rewrapped, 2 needed no move", line);
        Assert.Equal("old", (await again.RunAsync("secret", "get", "app/old", "--key", "k")).Stdout);
    }

    /// <summary>
    /// The secret <c>app/db</c> written under key version 1 and the key ring copied; the key rotated and the secret
    /// rewrapped under version 2; then the copy put back, as a restore from a backup older than the rotation would.
    /// </summary>
    private async Task RestoreAKeyRingFromBeforeARotationAsync()
    {
        var keyRing = Path.Combine(DataDir, "local.keyring");
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            ClectlAssert.Ok(await Clectl(server).RunAsync("secret", "create", "app/db", "--from-literal", "k=v"));
            Assert.Equal(0, await server.StopAsync());
        }

        File.Copy(keyRing, _temp.Combine("local.keyring.v1"));
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            var clectl = Clectl(server);
            ClectlAssert.Ok(await clectl.RunAsync("key", "rotate"));
            ClectlAssert.Ok(await clectl.RunAsync("key", "rewrap"));
            Assert.Equal(0, await server.StopAsync());
        }

        File.Copy(_temp.Combine("local.keyring.v1"), keyRing, overwrite: true);
    }

    private static async Task<KeyProviderReadiness> KeyProviderReadinessAsync(HttpClient http)
    {
        using var response = await http.GetAsync(new Uri("readyz", UriKind.Relative));
        using var report = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var check = report.RootElement.GetProperty("checks").GetProperty("key-provider");
        return new KeyProviderReadiness(response.StatusCode, check.GetProperty("status").GetString(), check.GetProperty("description").GetString() ?? "");
    }

    private sealed record KeyProviderReadiness(HttpStatusCode Code, string? Status, string Description);

    private ClectlRunner Clectl(TrousseauServerProcess server) =>
        ClectlRunner.For(server, DataDir, Directory.CreateDirectory(_temp.Combine("work")).FullName);
}
