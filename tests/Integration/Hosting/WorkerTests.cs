using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Trousseau.Etcd;
using Trousseau.Hosting;
using Trousseau.Tests.Integration.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Vault;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Hosting;

/// <summary>The background worker in a generic host.</summary>
public sealed class WorkerTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    /// <summary>Read by <see cref="StoreFactAttribute"/> for the etcd test.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_rotation_made_outside_trousseau_is_seen_and_every_secret_is_rewrapped_in_batches_with_progress_logged()
    {
        var log = new FakeLogCollector();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(log));
        builder.Services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .UseInMemoryStore()
            .AddWorker(o => o.Interval = TimeSpan.FromMilliseconds(100));
        using var host = builder.Build();
        await host.StartAsync();
        var trousseau = host.Services.GetRequiredService<ITrousseau>();
        for (var i = 0; i < 1100; i++)
        {
            await trousseau.CreateSecretAsync($"worker/{i:D4}", SecretType.Opaque, new Dictionary<string, string> { ["k"] = $"v{i}" });
        }

        await Eventually.HoldsAsync(() => Messages(log).Any(m => m.StartsWith("Worker watching key provider local", StringComparison.Ordinal)));
        var rotated = await host.Services.GetRequiredService<IKeyProvider>().RotateAsync();

        await Eventually.HoldsAsync(
            () => Messages(log).Any(m => m.StartsWith("Rewrap after rotation finished: 1100 stored secrets moved to " + rotated.KeyId, StringComparison.Ordinal)),
            () => string.Join(" | ", Messages(log)));
        Assert.Contains(Messages(log), m => m.Contains("The current key changed", StringComparison.Ordinal));
        Assert.Contains($"Rewrap in progress: 500 stored secrets checked, 500 moved to {rotated.KeyId} so far", Messages(log));
        Assert.Contains($"Rewrap in progress: 1000 stored secrets checked, 1000 moved to {rotated.KeyId} so far", Messages(log));
        Assert.Equal(0, (await host.Services.GetRequiredService<IKeyAdministration>().RewrapSecretsAsync()).Rewrapped);
        Assert.Equal("v707", (await trousseau.GetSecretAsync("worker/0707")).Data["k"]);
        await host.StopAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_rotation_made_while_the_host_was_stopped_is_rewrapped_at_the_next_start_unless_rewraps_are_off(bool rewrapAfterRotation)
    {
        var created = new List<SecretMetadata>();
        string rotatedKeyId;
        using (var stopped = BuildHost(new FakeLogCollector(), worker: null))
        {
            var trousseau = stopped.Services.GetRequiredService<ITrousseau>();
            for (var i = 0; i < 30; i++)
            {
                created.Add(await trousseau.CreateSecretAsync($"offline/{i:D2}", SecretType.Opaque, new Dictionary<string, string> { ["k"] = $"v{i}" }));
            }

            rotatedKeyId = (await stopped.Services.GetRequiredService<IKeyAdministration>().RotateKeyAsync()).KeyId;
        }

        var log = new FakeLogCollector();
        using var host = BuildHost(log, o =>
        {
            o.Interval = TimeSpan.FromMilliseconds(100);
            o.RewrapAfterRotation = rewrapAfterRotation;
        });
        await host.StartAsync();

        var keys = host.Services.GetRequiredService<IKeyAdministration>();
        if (rewrapAfterRotation)
        {
            await Eventually.HoldsAsync(
                () => Messages(log).Contains($"Rewrap at start finished: 30 stored secrets moved to {rotatedKeyId}, 0 needed no move, 0 left under an older key (each named, with the reason, in event 1204, 1205 or 1206)"),
                () => string.Join(" | ", Messages(log)));
            Assert.Equal(0, (await keys.RewrapSecretsAsync()).Rewrapped);
        }
        else
        {
            await Eventually.HoldsAsync(() => Messages(log).Any(m => m.StartsWith("Worker watching key provider local", StringComparison.Ordinal)));
            Assert.Equal(30, (await keys.RewrapSecretsAsync()).Rewrapped);
            Assert.DoesNotContain(Messages(log), m => m.Contains("at start", StringComparison.Ordinal));
        }

        var listed = await host.Services.GetRequiredService<ITrousseau>().ListSecretsAsync("offline/").ToListAsync();
        Assert.Equal(created.Select(m => m.Revision), listed.Select(m => m.Revision));
        await host.StopAsync();
    }

    [StoreFact]
    public async Task A_rewrap_cut_short_by_an_etcd_outage_runs_again_when_etcd_is_back_and_passes_over_a_damaged_record()
    {
        // An etcd of its own, not the shared EtcdFixture: this test stops etcd and starts it again.
        await using var etcd = await EtcdProcess.StartAsync();
        var log = new FakeLogCollector();
        using var host = BuildEtcdHost(etcd, log, LogLevel.Information);
        await host.StartAsync();
        var trousseau = host.Services.GetRequiredService<ITrousseau>();
        var created = new List<SecretMetadata>();
        for (var i = 0; i < 20; i++)
        {
            created.Add(await trousseau.CreateSecretAsync($"outage/{i:D2}", SecretType.Opaque, new Dictionary<string, string> { ["k"] = $"v{i}" }));
        }

        await host.Services.GetRequiredService<ISecretStore>().CreateAsync("outage/damaged", "\u0001not a sealed record"u8.ToArray());
        await Eventually.HoldsAsync(() => Messages(log).Any(m => m.StartsWith("Worker watching key provider local", StringComparison.Ordinal)));

        await etcd.StopAsync();
        var rotated = await host.Services.GetRequiredService<IKeyProvider>().RotateAsync();
        await Eventually.HoldsAsync(() => Messages(log).Any(m => m.StartsWith("Worker tick failed with DependencyUnavailableException", StringComparison.Ordinal)));
        await etcd.StartAgainAsync();

        await Eventually.HoldsAsync(
            () => Messages(log).Contains($"Rewrap after rotation finished: 20 stored secrets moved to {rotated.KeyId}, 0 needed no move, 1 left under an older key (each named, with the reason, in event 1204, 1205 or 1206)"),
            () => string.Join(" | ", Messages(log)));
        Assert.Contains(Messages(log), m => m.StartsWith("Rewrap left secret outage/damaged as it is", StringComparison.Ordinal));
        Assert.Equal(0, (await host.Services.GetRequiredService<IKeyAdministration>().RewrapSecretsAsync()).Rewrapped);
        var read = await trousseau.GetSecretAsync("outage/13");
        Assert.Equal("v13", read.Data["k"]);
        Assert.Equal(created[13].Revision, read.Revision);
        await host.StopAsync();
    }

    [StoreFact]
    public async Task A_store_outage_over_many_ticks_logs_one_warning_per_outage_and_one_line_when_the_worker_recovers()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        var log = new FakeLogCollector();
        using var host = BuildEtcdHost(etcd, log, LogLevel.Debug);
        await host.StartAsync();
        await host.Services.GetRequiredService<ITrousseau>().CreateSecretAsync("burst/one", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });

        // The rewrap at start done: an outage cutting it short would leave the worker rewrapping at start, not after a
        // rotation, and announce it so.
        await Eventually.HoldsAsync(() => Messages(log).Any(m => m.StartsWith("Rewrap at start finished", StringComparison.Ordinal)), () => string.Join(" | ", Messages(log)));
        var provider = host.Services.GetRequiredService<IKeyProvider>();

        for (var outage = 1; outage <= 2; outage++)
        {
            await etcd.StopAsync();
            var rotated = await provider.RotateAsync();
            await Eventually.HoldsAsync(() => TickFailures(log).Count >= 5 * outage, () => string.Join(" | ", Messages(log)));

            Assert.Equal(outage, TickFailures(log).Count(r => r.Level >= LogLevel.Warning));
            Assert.Equal(outage, Messages(log).Count(m => m.StartsWith("The current key changed", StringComparison.Ordinal)));
            await etcd.StartAgainAsync();
            await Eventually.HoldsAsync(
                () => Messages(log).Count(m => m.StartsWith("Worker ticks succeed again after ", StringComparison.Ordinal)) == outage,
                () => string.Join(" | ", Messages(log)));
            Assert.Contains(Messages(log), m => m.StartsWith("Rewrap after rotation finished: 1 stored secrets moved to " + rotated.KeyId, StringComparison.Ordinal));
        }

        await host.StopAsync();
    }

    [Fact]
    public async Task A_rewrap_that_moves_on_to_a_key_rotated_while_it_runs_names_that_key_and_is_not_run_again_at_the_next_tick()
    {
        await using var vault = await VaultTestServer.StartAsync();
        vault.CreateKey("worker");
        var log = new FakeLogCollector();
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(log));
        builder.Services.AddTrousseau(_ => { })
            .UseVaultTransit(o =>
            {
                o.Address = vault.Address;
                o.KeyName = "worker";
                o.Auth.Token = vault.RootToken;
            })
            .UseInMemoryStore()
            .AddWorker(o => o.Interval = TimeSpan.FromMilliseconds(100));
        using var host = builder.Build();
        await host.StartAsync();
        var trousseau = host.Services.GetRequiredService<ITrousseau>();
        for (var i = 0; i < 5; i++)
        {
            await trousseau.CreateSecretAsync($"moving/{i}", SecretType.Opaque, new Dictionary<string, string> { ["k"] = $"v{i}" });
        }

        await Eventually.HoldsAsync(() => Messages(log).Any(m => m.StartsWith("Rewrap at start finished", StringComparison.Ordinal)), () => string.Join(" | ", Messages(log)));

        // Rotated in Vault twice, the second time while the worker's rewrap after the first waits for Vault to wrap its
        // new data key: Vault wraps it under the newest version, and the rewrap moves the secrets there.
        var release = new TaskCompletionSource();
        vault.Hold = new VaultTestServer.VaultHold("/encrypt/worker", release.Task);
        await RotateInVaultAsync(vault, "worker");
        await Eventually.HoldsAsync(() => vault.Held > 0);
        await RotateInVaultAsync(vault, "worker");
        vault.Hold = null;
        release.SetResult();
        await Eventually.HoldsAsync(() => Messages(log).Any(m => m.StartsWith("Rewrap after rotation finished", StringComparison.Ordinal)), () => string.Join(" | ", Messages(log)));

        // Each tick reads the key once before anything else: by the third read, the tick after the rewrap is over.
        var readsBefore = KeyReads(vault);
        await Eventually.HoldsAsync(() => KeyReads(vault) >= readsBefore + 3);
        var newest = (await host.Services.GetRequiredService<IKeyAdministration>().GetKeyStatusAsync()).KeyId;
        Assert.Equal(
            $"Rewrap after rotation finished: 5 stored secrets moved to {newest}, 0 needed no move, 0 left under an older key (each named, with the reason, in event 1204, 1205 or 1206)",
            string.Join(" | ", Messages(log).Where(m => m.StartsWith("Rewrap after rotation finished", StringComparison.Ordinal))));
        Assert.Single(Messages(log), m => m.StartsWith("The current key changed", StringComparison.Ordinal));
        await host.StopAsync();
    }

    private static int KeyReads(VaultTestServer vault) => vault.Requests.Count(r => r.Method == "GET" && r.Path == "transit/keys/worker");

    private static async Task RotateInVaultAsync(VaultTestServer vault, string key)
    {
        using var http = new HttpClient { BaseAddress = vault.Address };
        using var request = new HttpRequestMessage(HttpMethod.Post, $"v1/transit/keys/{key}/rotate");
        request.Headers.Add("X-Vault-Token", vault.RootToken);
        (await http.SendAsync(request)).EnsureSuccessStatusCode();
    }

    [Theory]
    [InlineData("builder")]
    [InlineData("services")]
    public async Task An_interval_out_of_range_stops_the_host_at_start_naming_it(string registration)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        var trousseau = builder.Services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .UseInMemoryStore();
        if (registration == "builder")
        {
            trousseau.AddWorker(o => o.Interval = TimeSpan.Zero);
        }
        else
        {
            builder.Services.AddTrousseauWorker(o => o.Interval = TimeSpan.Zero);
        }

        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Interval is 00:00:00; it must be at least 00:00:00.1 and at most 1.00:00:00.", error.Message, StringComparison.Ordinal);
    }

    /// <summary>The log messages so far, as an operator would read them.</summary>
    private static List<string> Messages(FakeLogCollector log) => [.. log.GetSnapshot().Select(r => r.Message)];

    /// <summary>The worker's reports of failed ticks so far, whatever their level.</summary>
    private static List<FakeLogRecord> TickFailures(FakeLogCollector log) =>
        [.. log.GetSnapshot().Where(r => r.Message.StartsWith("Worker tick failed", StringComparison.Ordinal))];

    /// <summary>
    /// A host on <paramref name="etcd"/> and a key ring in this test's directory, its worker ticking every 100 ms,
    /// Trousseau's log from <paramref name="level"/> up in <paramref name="log"/>.
    /// </summary>
    private IHost BuildEtcdHost(EtcdProcess etcd, FakeLogCollector log, LogLevel level)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddFilter<FakeLoggerProvider>("Trousseau", level).AddProvider(new FakeLoggerProvider(log));
        builder.Services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .UseEtcdStore(o => o.Endpoints.Add(etcd.ClientUrl))
            .AddWorker(o => o.Interval = TimeSpan.FromMilliseconds(100));
        return builder.Build();
    }

    /// <summary>A host on a SQLite file and a key ring in this test's directory, which outlive it; with the worker unless <paramref name="worker"/> is null.</summary>
    private IHost BuildHost(FakeLogCollector log, Action<TrousseauWorkerOptions>? worker)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddProvider(new FakeLoggerProvider(log));
        var trousseau = builder.Services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .UseSqliteStore(o => o.Path = _temp.Combine("store.db"));
        if (worker is not null)
        {
            trousseau.AddWorker(worker);
        }

        return builder.Build();
    }
}
