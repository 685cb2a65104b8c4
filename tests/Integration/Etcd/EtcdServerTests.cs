using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>One etcd and one trousseaud on it, shared by the tests of <see cref="EtcdServerTests"/>.</summary>
public sealed class EtcdServerFixture : IAsyncLifetime, IDisposable
{
    internal TempDirectory Temp { get; } = new();

    internal EtcdProcess Etcd { get; private set; } = null!;

    internal TrousseauServerProcess Server { get; private set; } = null!;

    internal ClectlRunner Clectl { get; private set; } = null!;

    internal string DataDir => Temp.Combine("data");

    public async Task InitializeAsync()
    {
        Etcd = await EtcdProcess.StartAsync();
        Server = await EtcdServerTests.StartServerAsync(Etcd, DataDir);
        Clectl = ClectlRunner.For(Server, DataDir, Temp.Path);
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await Etcd.DisposeAsync();
    }

    public void Dispose() => Temp.Dispose();
}

/// <summary>
/// trousseaud with <c>Trousseau:Store=etcd</c> on a real etcd, driven with clectl. Tests share one etcd and server,
/// each with secrets of its own; those that stop etcd or turn its auth on start their own.
/// </summary>
public sealed class EtcdServerTests(EtcdServerFixture shared) : IClassFixture<EtcdServerFixture>, IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private readonly TempDirectory _temp = new();
    private readonly ClectlRunner _clectl = shared.Clectl;

    public void Dispose() => _temp.Dispose();

    [StoreFact]
    public async Task Etcdctl_sees_only_ciphertext_under_the_prefix()
    {
        const string Value = "plaintext-that-etcd-must-not-see";
        ClectlAssert.Ok(await _clectl.RunWithInputAsync(Value, "secret", "create", "etcd/login", "--type", "login", "--username", "app", "--password-stdin"));
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "etcd/opaque", "--from-literal", $"k={Value}"));

        var dump = await shared.Etcd.CtlAsync("get", "--prefix", "/trousseau/");

        Assert.Contains("/trousseau/etcd/login", dump, StringComparison.Ordinal);
        Assert.Contains("/trousseau/etcd/opaque", dump, StringComparison.Ordinal);
        Assert.DoesNotContain(Value, dump, StringComparison.Ordinal);
        Assert.Equal(Value, (await _clectl.RunAsync("secret", "get", "etcd/login", "--key", "password")).Stdout);
    }

    [StoreFact]
    public async Task Of_12_concurrent_updates_at_one_revision_exactly_one_wins_and_the_rest_exit_4()
    {
        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "etcd/race", "--from-literal", "k=start"));
        var revision = JsonDocument.Parse((await _clectl.RunAsync("secret", "get", "etcd/race", "-o", "json")).Stdout).RootElement.GetProperty("revision").GetInt64().ToString(System.Globalization.CultureInfo.InvariantCulture);

        var results = await Task.WhenAll(Enumerable.Range(0, 12).Select(i =>
            _clectl.RunAsync("secret", "update", "etcd/race", "--from-literal", $"k=writer-{i}", "--if-revision", revision)));

        var winner = Assert.Single(results, r => r.ExitCode == 0);
        Assert.All(results.Where(r => r != winner), r => Assert.Equal(4, r.ExitCode));
        var value = (await _clectl.RunAsync("secret", "get", "etcd/race", "--key", "k")).Stdout;
        Assert.StartsWith("writer-", value, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task With_etcd_down_writes_fail_as_unavailable_naming_etcd_and_the_service_recovers_by_itself()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var dataDir = _temp.Combine("outage");
        await using var server = await StartServerAsync(etcd, dataDir);
        var clectl = ClectlRunner.For(server, dataDir, _temp.Path);
        ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "etcd/before", "--from-literal", "k=kept"));

        await etcd.StopAsync();
        var write = await clectl.RunAsync("secret", "create", "etcd/during", "--from-literal", "k=lost");

        Assert.Equal(6, write.ExitCode);
        Assert.Contains("etcd cannot be reached", write.Stderr, StringComparison.Ordinal);
        await server.WaitForReadinessAsync(HttpStatusCode.ServiceUnavailable);

        await etcd.StartAgainAsync();
        ClectlAssert.Ok(await clectl.RunAsync("secret", "create", "etcd/after", "--from-literal", "k=new"));
        await server.WaitForReadinessAsync(HttpStatusCode.OK);
        Assert.Equal("kept", (await clectl.RunAsync("secret", "get", "etcd/before", "--key", "k")).Stdout);
        Assert.Equal(3, (await clectl.RunAsync("secret", "get", "etcd/during")).ExitCode);
    }

    [StoreFact]
    public async Task With_etcd_frozen_reads_and_writes_are_a_503_naming_the_deadline_and_work_again_once_it_thaws()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var dataDir = _temp.Combine("frozen");
        await using var server = await StartServerAsync(etcd, dataDir);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"etcd/frozen","data":{"k":"before"}}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await etcd.FreezeAsync();
        using var read = await http.GetAsync(new Uri("v1/secrets/etcd/frozen", UriKind.Relative));
        using var write = await http.PutAsync(new Uri("v1/secrets/etcd/frozen", UriKind.Relative), JsonBody.Of("""{"data":{"k":"during"}}"""));
        var readProblem = await Problems.AssertAsync(read, HttpStatusCode.ServiceUnavailable);
        var writeProblem = await Problems.AssertAsync(write, HttpStatusCode.ServiceUnavailable);
        await etcd.ThawAsync();
        using var written = await http.PutAsync(new Uri("v1/secrets/etcd/frozen", UriKind.Relative), JsonBody.Of("""{"data":{"k":"after"}}"""));

        // Each detail is a sentence naming the member, with its final period, as docs/reference.md quotes it.
        var member = $"member {etcd.ClientUrl.GetLeftPart(UriPartial.Authority)}";
        Assert.Equal(
            $"etcd cannot be reached: {member} did not answer the range within 3 s (etcd is down, hung or overloaded there, or the network drops its packets).",
            readProblem.GetProperty("detail").GetString());
        // The write's answer took both deadlines: the transaction's, then the read of whether it was applied; etcd may
        // still apply it once it thaws, so it says the write may or may not have been applied.
        Assert.Equal(
            $"etcd cannot be reached: {member} did not answer the txn within 3 s, nor the read of whether it was applied within 3 s more (6 s in all); etcd may still apply it, so the write may or may not have been applied: read it again before you repeat it.",
            writeProblem.GetProperty("detail").GetString());
        Assert.Equal(HttpStatusCode.OK, written.StatusCode);
        Assert.Equal("after", (await ClectlRunner.For(server, dataDir, _temp.Path).RunAsync("secret", "get", "etcd/frozen", "--key", "k")).Stdout);
    }

    [StoreFact]
    public async Task Two_instances_on_one_etcd_see_each_others_writes_at_once()
    {
        await using var second = await StartServerAsync(shared.Etcd, _temp.Combine("second"), keyFile: Path.Combine(shared.DataDir, "local.keyring"));
        var other = ClectlRunner.For(second, _temp.Combine("second"), _temp.Path);

        ClectlAssert.Ok(await _clectl.RunAsync("secret", "create", "etcd/shared", "--from-literal", "k=from-first"));
        var seen = await other.RunAsync("secret", "get", "etcd/shared", "--key", "k");
        ClectlAssert.Ok(await other.RunAsync("secret", "update", "etcd/shared", "--from-literal", "k=from-second"));

        Assert.Equal("from-first", seen.Stdout);
        Assert.Equal("from-second", (await _clectl.RunAsync("secret", "get", "etcd/shared", "--key", "k")).Stdout);
    }

    [StoreFact]
    public async Task After_another_instance_rotated_the_shared_key_ring_writes_through_one_that_does_not_rewrap_use_the_new_version_by_its_next_worker_tick()
    {
        var dataDir = _temp.Combine("rotated");
        string[] args =
        [
            "--Trousseau:Store=etcd",
            $"--Trousseau:Etcd:Endpoints:0={shared.Etcd.ClientUrl}",
            "--Trousseau:Etcd:Prefix=/rotated/",
            "--Trousseau:Worker:RewrapAfterRotation=false",
            "--Trousseau:Worker:Interval=00:00:00.2",
        ];
        await using var writer = await TrousseauServerProcess.StartAsync(dataDir, args);
        var writerClectl = ClectlRunner.For(writer, dataDir, _temp.Path);
        ClectlAssert.Ok(await writerClectl.RunAsync("secret", "create", "busy", "--from-literal", "k=0"));
        await using var other = await TrousseauServerProcess.StartAsync(dataDir, [.. args, "--kms-socket", _temp.Combine("other.sock")]);
        var otherClectl = ClectlRunner.For(other, dataDir, _temp.Path);
        ClectlAssert.Ok(await otherClectl.RunAsync("key", "rotate"));

        // Each round writes through the first instance, then rewraps through the other: once the first instance's
        // worker has read the rotation, its writes are under the new version and the rewrap finds nothing to move.
        var writes = 0;
        await Eventually.HoldsAsync(
            async () =>
            {
                ClectlAssert.Ok(await writerClectl.RunAsync("secret", "update", "busy", "--from-literal", $"k={++writes}"));
                var rewrap = await otherClectl.RunAsync("key", "rewrap", "-o", "json");
                ClectlAssert.Ok(rewrap);
                return JsonDocument.Parse(rewrap.Stdout).RootElement.GetProperty("rewrapped").GetInt64() == 0;
            },
            () => $"each of {writes} writes through the first instance was still under the key version before the rotation");
        Assert.Equal($"{writes}", (await otherClectl.RunAsync("secret", "get", "busy", "--key", "k")).Stdout);
    }

    [StoreFact]
    public async Task Username_and_password_auth_is_used_and_a_wrong_password_is_unavailable()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.EnableAuthAsync("trousseau", "etcd-pass-2", "/trousseau/");

        await using var authed = await TrousseauServerProcess.StartAsync(_temp.Combine("authed"),
            ["--Trousseau:Store=etcd", $"--Trousseau:Etcd:Endpoints:0={etcd.ClientUrl}", "--Trousseau:Etcd:Username=trousseau", "--Trousseau:Etcd:Password=etcd-pass-2"]);
        // The second instance shares the first one's key ring: without one, a store it cannot read stops its start.
        await using var wrong = await TrousseauServerProcess.StartAsync(_temp.Combine("wrong"),
            ["--Trousseau:Store=etcd", $"--Trousseau:Etcd:Endpoints:0={etcd.ClientUrl}", "--Trousseau:Etcd:Username=trousseau", "--Trousseau:Etcd:Password=not-it",
             $"--Trousseau:Local:KeyFile={Path.Combine(_temp.Combine("authed"), "local.keyring")}"]);
        var good = ClectlRunner.For(authed, _temp.Combine("authed"), _temp.Path);
        var bad = ClectlRunner.For(wrong, _temp.Combine("wrong"), _temp.Path);

        ClectlAssert.Ok(await good.RunAsync("secret", "create", "etcd/authed", "--from-literal", "k=v"));
        Assert.Equal("v", (await good.RunAsync("secret", "get", "etcd/authed", "--key", "k")).Stdout);
        var refused = await bad.RunAsync("secret", "get", "etcd/authed");
        Assert.Equal(6, refused.ExitCode);
        Assert.Contains("refused Trousseau's credentials", refused.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("etcd-pass-2", authed.Log + wrong.Log + refused.Stderr, StringComparison.Ordinal);
        Assert.NotEqual(0, (await etcd.RunCtlAsync("get", "--prefix", "/trousseau/")).ExitCode);
    }

    [StoreFact]
    public async Task A_new_etcd_password_written_to_the_config_file_is_used_by_the_next_call_without_a_restart()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.EnableAuthAsync("trousseau", "etcd-pass-old", "/trousseau/");
        var dataDir = _temp.Combine("password");
        var config = _temp.Combine("password.json");
        await WriteEtcdConfigAsync(config, etcd, "etcd-pass-old");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"etcd/password","data":{"k":"v"}}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await etcd.CtlWithInputAsync("etcd-pass-new\n", "--user", "root:root-pass-1", "user", "passwd", "trousseau", "--interactive=false");
        using var refused = await http.GetAsync(new Uri("v1/secrets/etcd/password", UriKind.Relative));
        var problem = await Problems.AssertAsync(refused, HttpStatusCode.ServiceUnavailable);
        await WriteEtcdConfigAsync(config, etcd, "etcd-pass-new");
        await Eventually.ReturnsAsync(
            async () =>
            {
                using var read = await http.GetAsync(new Uri("v1/secrets/etcd/password", UriKind.Relative));
                return read.StatusCode;
            },
            status => status == HttpStatusCode.OK,
            awaited: "a read with the new password from the rewritten configuration file",
            show: status => $"{(int)status}; the server's output:\n{server.Log}");

        Assert.Contains("refused Trousseau's credentials", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.False(server.HasExited);
        Assert.DoesNotContain("etcd-pass-", server.Log + problem.GetRawText(), StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task A_config_file_rewritten_with_settings_that_do_not_validate_is_not_taken_and_the_log_says_why()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.EnableAuthAsync("trousseau", "etcd-pass-kept", "/trousseau/");
        var dataDir = _temp.Combine("invalid-reload");
        var config = _temp.Combine("invalid-reload.json");
        await WriteEtcdConfigAsync(config, etcd, "etcd-pass-kept");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--config", config]);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));

        await File.WriteAllTextAsync(config, $$"""
            { "Trousseau": { "Store": "etcd", "Etcd": { "Endpoints": ["{{etcd.ClientUrl}}"], "Username": "trousseau" } } }
            """);
        var warning = await Eventually.ReturnsAsync(
            () => Task.FromResult(server.Log.Split('\n').FirstOrDefault(line => line.Contains("Trousseau:Etcd:Username and Trousseau:Etcd:Password go together", StringComparison.Ordinal))),
            line => line is not null,
            awaited: "a log line saying why the rewritten configuration is not taken",
            show: _ => $"the server's output:\n{server.Log}");
        using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"etcd/after-invalid-reload","data":{"k":"v"}}"""));

        Assert.StartsWith("The changed configuration is not taken: ", warning!.Trim(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.DoesNotContain("etcd-pass-", server.Log, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task After_etcd_comes_back_as_a_new_empty_cluster_readiness_is_degraded_naming_both_cluster_ids_and_calls_still_work()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var dataDir = _temp.Combine("rebuilt");
        await using var server = await StartServerAsync(etcd, dataDir);
        using var http = await BearerClient.FromTokenFileAsync(server.BaseAddress, Path.Combine(dataDir, "api.token"));
        using (var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"etcd/before-rebuild","data":{"k":"v"}}""")))
        {
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        var before = await StoreCheckAsync(http);
        var firstId = await ClusterIdAsync(etcd);
        await etcd.StopAsync();
        await etcd.StartEmptyAsync(clusterToken: "rebuilt");
        var secondId = await ClusterIdAsync(etcd);
        var after = await Eventually.ReturnsAsync(
            () => StoreCheckAsync(http),
            check => check.Status == "degraded",
            awaited: "the store check to say degraded after etcd came back empty",
            show: check => $"{check.Status}: {check.Description}");
        using var written = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of("""{"name":"etcd/after-rebuild","data":{"k":"v"}}"""));
        using var ready = await server.Http.GetAsync(new Uri(server.BaseAddress, "readyz"));

        Assert.Equal("healthy", before.Status);
        Assert.NotEqual(firstId, secondId);
        Assert.Contains($"etcd cluster {firstId} when trousseaud connected, now {secondId}", after.Description, StringComparison.Ordinal);
        Assert.Contains("not in it unless it was restored from a snapshot", after.Description, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, written.StatusCode);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Single(server.Log.Split('\n'), line => line.Contains($"etcd cluster {firstId}", StringComparison.Ordinal));
    }

    [StoreFact]
    public async Task A_listing_over_several_pages_while_secrets_are_written_shows_each_earlier_secret_once_in_order()
    {
        using var http = await BearerClient.FromTokenFileAsync(shared.Server.BaseAddress, Path.Combine(shared.DataDir, "api.token"));
        var before = Enumerable.Range(0, 1100).Select(i => $"etcd/paged/{i:D4}").ToList();
        await Parallel.ForEachAsync(before, new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (name, ct) =>
        {
            using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of($$$"""{"name":"{{{name}}}","data":{"k":"v"}}"""), ct);
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        });

        // While clectl pages through them (500 a page): updates of earlier secrets, and secrets created and deleted
        // between them, on every page.
        using var stop = new CancellationTokenSource();
        var writes = 0;
        var writer = Task.Run(async () =>
        {
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                var name = before[i * 37 % before.Count];
                using var updated = await http.PutAsync(new Uri($"v1/secrets/{name}", UriKind.Relative), JsonBody.Of($$$"""{"data":{"k":"w{{{i}}}"}}"""));
                using var created = await http.PostAsync(new Uri("v1/secrets", UriKind.Relative), JsonBody.Of($$$"""{"name":"{{{name}}}-new","data":{"k":"n"}}"""));
                using var deleted = await http.DeleteAsync(new Uri($"v1/secrets/{name}-new", UriKind.Relative));
                Interlocked.Increment(ref writes);
            }
        });
        await Eventually.HoldsAsync(() => Volatile.Read(ref writes) > 0, () => "the writer wrote nothing", TimeSpan.FromSeconds(30), "a first round of writes");
        var list = await _clectl.RunAsync("secret", "list", "--prefix", "etcd/paged/", "-o", "json");
        var writesDuringList = Volatile.Read(ref writes);
        await stop.CancelAsync();
        await writer;

        Assert.True(list.ExitCode == 0, list.Stderr);
        var listed = JsonDocument.Parse(list.Stdout).RootElement.GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString()!).ToList();
        Assert.Equal(listed.Order(StringComparer.Ordinal), listed);
        Assert.Equal(listed.Distinct(StringComparer.Ordinal), listed);
        Assert.Equal(before, listed.Where(n => !n.EndsWith("-new", StringComparison.Ordinal)));
    }


    /// <summary>Writes a <c>--config</c> file that puts trousseaud on <paramref name="etcd"/> as user trousseau with <paramref name="password"/>.</summary>
    private static Task WriteEtcdConfigAsync(string path, EtcdProcess etcd, string password) =>
        File.WriteAllTextAsync(path, $$"""
            { "Trousseau": { "Store": "etcd", "Etcd": { "Endpoints": ["{{etcd.ClientUrl}}"], "Username": "trousseau", "Password": "{{password}}" } } }
            """);

    /// <summary>The store's entry of <c>/readyz</c>, with its description (shown to a caller with the API token).</summary>
    private static async Task<(string Status, string Description)> StoreCheckAsync(HttpClient http)
    {
        using var ready = await http.GetAsync(new Uri("readyz", UriKind.Relative));
        var store = JsonDocument.Parse(await ready.Content.ReadAsStringAsync()).RootElement.GetProperty("checks").GetProperty("store");
        return (store.GetProperty("status").GetString()!, store.GetProperty("description").GetString()!);
    }

    /// <summary>The cluster id etcd answers with, in hex as etcd writes it.</summary>
    private static async Task<string> ClusterIdAsync(EtcdProcess etcd)
    {
        var status = JsonDocument.Parse(await etcd.CtlAsync("endpoint", "status", "-w", "json")).RootElement[0];
        return status.GetProperty("Status").GetProperty("header").GetProperty("cluster_id").GetUInt64().ToString("x", System.Globalization.CultureInfo.InvariantCulture);
    }

    internal static Task<TrousseauServerProcess> StartServerAsync(EtcdProcess etcd, string dataDir, string? keyFile = null) =>
        TrousseauServerProcess.StartAsync(dataDir,
        [
            "--Trousseau:Store=etcd",
            $"--Trousseau:Etcd:Endpoints:0={etcd.ClientUrl}",
            .. keyFile is null ? Array.Empty<string>() : [$"--Trousseau:Local:KeyFile={keyFile}"],
        ]);
}
