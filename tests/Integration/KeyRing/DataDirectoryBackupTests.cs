using System.Collections.Concurrent;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Trousseau.Remote;
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
    public async Task A_backup_taken_while_trousseaud_writes_restores_into_a_new_data_directory_every_secret_acknowledged_before_it_began_at_its_revision()
    {
        var (backup, restore) = DocumentedShell.BackupAndRestore("Data directory: backup and restore");
        var copy = Directory.CreateDirectory(_temp.Combine("backup")).FullName;
        var acknowledged = new ConcurrentQueue<(string Name, string Value, long Revision)>();
        (string Name, string Value, long Revision)[] beforeBackup;

        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(DataDir, "api.token"));
            using var stop = new CancellationTokenSource();
            var writer = Task.Run(async () =>
            {
                for (var i = 0; !stop.IsCancellationRequested; i++)
                {
                    acknowledged.Enqueue(($"busy/{i}", $"v{i}", await WriteAsync(http, HttpMethod.Post, "v1/secrets", $$$"""{"name":"busy/{{{i}}}","data":{"k":"v{{{i}}}"}}""")));
                    acknowledged.Enqueue(("busy/counter", $"c{i}", await WriteAsync(http, i == 0 ? HttpMethod.Post : HttpMethod.Put, i == 0 ? "v1/secrets" : "v1/secrets/busy/counter", i == 0 ? """{"name":"busy/counter","data":{"k":"c0"}}""" : $$$"""{"data":{"k":"c{{{i}}}"}}""")));
                }
            });
            await Eventually.HoldsAsync(() => acknowledged.Count >= 40 || writer.IsCompleted, () => $"{acknowledged.Count} writes acknowledged");

            beforeBackup = [.. acknowledged];
            await DocumentedShell.RunAsync(backup, _temp.Path, new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = DataDir, ["BACKUP"] = copy });
            var acknowledgedBeforeBackupEnded = acknowledged.Count;
            await Eventually.HoldsAsync(() => acknowledged.Count >= acknowledgedBeforeBackupEnded + 10 || writer.IsCompleted, () => $"{acknowledged.Count} writes acknowledged");
            await stop.CancelAsync();
            await writer;
        }

        var restoredDir = Directory.CreateDirectory(_temp.Combine("restored")).FullName;
        File.SetUnixFileMode(restoredDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        await DocumentedShell.RunAsync(restore, _temp.Path, new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = restoredDir, ["BACKUP"] = copy });

        await using var restored = await TrousseauServerProcess.StartAsync(restoredDir);
        using var again = await BearerClient.FromTokenFileAsync(restored.BaseAddress, Path.Combine(restoredDir, "api.token"));
        foreach (var (name, value, revision) in beforeBackup.Where(w => w.Name != "busy/counter"))
        {
            Assert.Equal((name, value, revision), await ReadAsync(again, name));
        }

        var counter = await ReadAsync(again, "busy/counter");
        var lastBefore = beforeBackup.Last(w => w.Name == "busy/counter");
        Assert.True(counter.Revision >= lastBefore.Revision, $"busy/counter came back as {counter}, older than {lastBefore}, acknowledged before the backup began");
        Assert.Contains(counter, acknowledged);
        using var listing = JsonDocument.Parse(await again.GetStringAsync(new Uri("v1/secrets?prefix=busy/&limit=1000", UriKind.Relative)));
        foreach (var item in listing.RootElement.GetProperty("items").EnumerateArray())
        {
            var name = item.GetProperty("name").GetString()!;
            Assert.Contains(await ReadAsync(again, name), acknowledged);
        }
    }

    [Fact]
    public async Task An_older_backup_restored_over_a_newer_store_serves_what_it_holds_and_a_client_holding_a_later_revision_gets_a_conflict()
    {
        var (backup, restore) = DocumentedShell.BackupAndRestore("Data directory: backup and restore");
        var environment = new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = DataDir, ["BACKUP"] = Directory.CreateDirectory(_temp.Combine("backup")).FullName };
        long older;
        long later;
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(DataDir, "api.token"));
            older = await WriteAsync(http, HttpMethod.Post, "v1/secrets", """{"name":"app/kept","data":{"k":"old"}}""");
            await DocumentedShell.RunAsync(backup, _temp.Path, environment);
            later = await WriteAsync(http, HttpMethod.Put, "v1/secrets/app/kept", """{"data":{"k":"new"}}""");
            await WriteAsync(http, HttpMethod.Post, "v1/secrets", """{"name":"app/since","data":{"k":"v"}}""");
            Assert.Equal(0, await server.StopAsync());
        }

        await DocumentedShell.RunAsync(restore, _temp.Path, environment);

        await using var restored = await TrousseauServerProcess.StartAsync(DataDir);
        using var again = await BearerClient.FromTokenFileAsync(restored.BaseAddress, Path.Combine(DataDir, "api.token"));
        var clectl = Clectl(restored);
        Assert.Equal(("app/kept", "old", older), await ReadAsync(again, "app/kept"));
        ClectlAssert.Fails(await clectl.RunAsync("secret", "get", "app/since"), 3);
        using var listing = JsonDocument.Parse(await again.GetStringAsync(new Uri("v1/secrets?prefix=app/", UriKind.Relative)));
        Assert.Equal(["app/kept"], listing.RootElement.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("name").GetString()));
        ClectlAssert.Fails(await clectl.RunAsync("secret", "update", "app/kept", "--from-literal", "k=stale", "--if-revision", $"{later}"), 4);
        Assert.Equal("old", (await clectl.RunAsync("secret", "get", "app/kept", "--key", "k")).Stdout);
    }

    [Fact]
    public async Task Configuration_read_from_a_running_trousseaud_follows_an_older_backup_restored_there_back_to_its_values()
    {
        var (backup, restore) = DocumentedShell.BackupAndRestore("Data directory: backup and restore");
        var environment = new Dictionary<string, string?> { ["TROUSSEAU_HOME"] = DataDir, ["BACKUP"] = Directory.CreateDirectory(_temp.Combine("backup")).FullName };
        var listener = ServerListener.Loopback();
        await using var server = await TrousseauServerProcess.StartAsync(DataDir, listener: listener);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(DataDir, "api.token"));
        await WriteAsync(http, HttpMethod.Post, "v1/secrets", """{"name":"app/kept","data":{"k":"old"}}""");
        await DocumentedShell.RunAsync(backup, _temp.Path, environment);
        await WriteAsync(http, HttpMethod.Put, "v1/secrets/app/kept", """{"data":{"k":"new"}}""");
        await WriteAsync(http, HttpMethod.Post, "v1/secrets", """{"name":"app/since","data":{"k":"v"}}""");

        using var remote = new HttpClient { BaseAddress = listener.BaseAddress };
        var client = new TrousseauClient(remote, await BearerClient.ReadTokenAsync(Path.Combine(DataDir, "api.token")));
        var configuration = new ConfigurationBuilder().AddTrousseauSecrets(o => { o.Trousseau = client; o.Prefix = "app/"; o.ReloadInterval = TimeSpan.FromMilliseconds(200); }).Build();
        using (configuration as IDisposable)
        {
            var before = (configuration["kept:k"], configuration["since:k"]);
            Assert.Equal(0, await server.StopAsync());
            await DocumentedShell.RunAsync(restore, _temp.Path, environment);
            await using var restored = await TrousseauServerProcess.StartAsync(DataDir, listener: listener);
            await Eventually.HoldsAsync(() => configuration["kept:k"] == "old", () => $"kept:k is still '{configuration["kept:k"]}'");

            Assert.Equal(("new", "v"), before);
            Assert.Null(configuration["since:k"]);
        }
    }

    [Fact]
    public async Task A_copy_of_store_db_alone_taken_while_trousseaud_runs_starts_without_a_word_and_without_the_secrets_as_the_docs_warn()
    {
        string copy;
        await using (var server = await TrousseauServerProcess.StartAsync(DataDir))
        {
            using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(DataDir, "api.token"));
            await WriteAsync(http, HttpMethod.Post, "v1/secrets", """{"name":"app/one","data":{"k":"v"}}""");
            await WriteAsync(http, HttpMethod.Post, "v1/secrets", """{"name":"app/two","data":{"k":"v"}}""");
            copy = Directory.CreateDirectory(_temp.Combine("copied")).FullName;
            File.SetUnixFileMode(copy, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.Copy(Path.Combine(DataDir, "store.db"), Path.Combine(copy, "store.db"));
            File.Copy(Path.Combine(DataDir, "local.keyring"), Path.Combine(copy, "local.keyring"));
        }

        await using var restored = await TrousseauServerProcess.StartAsync(copy);
        using var again = await BearerClient.FromTokenFileAsync(restored.BaseAddress, Path.Combine(copy, "api.token"));
        using var ready = await again.GetAsync(new Uri("readyz", UriKind.Relative));
        using var listing = JsonDocument.Parse(await again.GetStringAsync(new Uri("v1/secrets", UriKind.Relative)));

        Assert.Equal(0, listing.RootElement.GetProperty("items").GetArrayLength());
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.DoesNotContain("\"degraded\"", await ready.Content.ReadAsStringAsync(), StringComparison.Ordinal);
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

    /// <summary>Sends a write and returns the revision of its answer, failing the test unless it is a 2xx.</summary>
    private static async Task<long> WriteAsync(HttpClient http, HttpMethod method, string path, string body)
    {
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        using var answer = await http.SendAsync(request);
        var text = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.IsSuccessStatusCode, $"{method} {path}: {(int)answer.StatusCode} {text}");
        using var metadata = JsonDocument.Parse(text);
        return metadata.RootElement.GetProperty("revision").GetInt64();
    }

    /// <summary>The secret's name, the value of its key <c>k</c> and its revision, failing the test unless it reads.</summary>
    private static async Task<(string Name, string Value, long Revision)> ReadAsync(HttpClient http, string name)
    {
        using var answer = await http.GetAsync(new Uri($"v1/secrets/{name}", UriKind.Relative));
        var text = await answer.Content.ReadAsStringAsync();
        Assert.True(answer.StatusCode == HttpStatusCode.OK, $"GET {name}: {(int)answer.StatusCode} {text}");
        using var secret = JsonDocument.Parse(text);
        return (name, secret.RootElement.GetProperty("data").GetProperty("k").GetString()!, secret.RootElement.GetProperty("revision").GetInt64());
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
