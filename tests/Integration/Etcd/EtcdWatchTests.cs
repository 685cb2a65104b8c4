using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Trousseau.Etcd;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// Change notifications from a real etcd, across an etcd restart. A test that stops, freezes or empties etcd starts an
/// etcd of its own (<see cref="StartOwnEtcdAsync"/>); the others share the class's, each under keys of its own.
/// </summary>
public sealed class EtcdWatchTests(EtcdFixture shared) : IClassFixture<EtcdFixture>, IAsyncLifetime
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private EtcdProcess? _ownEtcd;
    private ServiceProvider? _services;

    /// <summary>This test's etcd: its own once <see cref="StartOwnEtcdAsync"/> has run, else the class's.</summary>
    private EtcdProcess Etcd => _ownEtcd ?? shared.Etcd;

    /// <summary>The store of this test, on <see cref="Etcd"/>, made at its first use.</summary>
    private EtcdSecretStore Store => (_services ??= StoreServices(Etcd.ClientUrl)).GetRequiredService<EtcdSecretStore>();

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_services is not null)
        {
            await _services.DisposeAsync();
        }

        if (_ownEtcd is not null)
        {
            await _ownEtcd.DisposeAsync();
        }
    }

    /// <summary>Starts an etcd for this test alone, which it may stop, freeze or empty; called before the first use of <see cref="Store"/>.</summary>
    private async Task StartOwnEtcdAsync()
    {
        Assert.Null(_services);
        _ownEtcd = await EtcdProcess.StartAsync();
    }

    private static ServiceProvider StoreServices(Uri endpoint)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o => o.Endpoints.Add(endpoint));
        return services.BuildServiceProvider();
    }

    [StoreFact]
    public async Task A_watch_reports_puts_and_deletes_under_its_prefix_only_and_survives_an_etcd_restart()
    {
        await StartOwnEtcdAsync();

        // A change outside the prefix would come out of NextAsync and fail the test.
        await using var watch = new WatchRecorder(Store, "config/", c => c.Key?.StartsWith("config/probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(probe => Store.CreateAsync($"config/probe-{probe}", "p"u8.ToArray()).AsTask());

        var created = await Store.CreateAsync("config/app", "v1"u8.ToArray());
        await Store.CreateAsync("other/app", "x"u8.ToArray());
        var updated = await Store.UpdateAsync("config/app", "v2"u8.ToArray(), created);
        await Store.DeleteAsync("config/app");

        Assert.Equal(new StoreChange("config/app", StoreChangeKind.Put, created), await watch.NextAsync("create"));
        Assert.Equal(new StoreChange("config/app", StoreChangeKind.Put, updated), await watch.NextAsync("update"));
        Assert.Equal(StoreChangeKind.Delete, (await watch.NextAsync("delete")).Kind);

        await Etcd.StopAsync();
        await Etcd.StartAgainAsync();
        var afterRestart = await Store.CreateAsync("config/after-restart", "v"u8.ToArray());

        Assert.Equal(new StoreChange("config/after-restart", StoreChangeKind.Put, afterRestart), await watch.NextAsync("write after the restart"));
        await watch.StopAsync();
    }

    [StoreFact]
    public async Task A_reader_that_falls_behind_a_burst_of_more_writes_than_the_watch_holds_still_gets_every_change_in_order()
    {
        // More than the 1,024 changes the watch holds for a reader that falls behind: the rest wait in etcd.
        const int Writes = 2_500;
        using var stop = new CancellationTokenSource();
        var changes = Store.WatchAsync("burst/", stop.Token).GetAsyncEnumerator(stop.Token);
        var probe = 0;
        try
        {
            // The watch opens in the background; write probes until the reader gets one.
            var first = changes.MoveNextAsync().AsTask();
            await Eventually.HoldsAsync(async () => first.IsCompleted || await WriteProbeAsync());
            Assert.True(await first, "the watch ended before it reported a probe");

            var written = new List<StoreChange>(Writes);
            for (var i = 0; i < Writes; i++)
            {
                written.Add(new StoreChange($"burst/item-{i}", StoreChangeKind.Put, await Store.CreateAsync($"burst/item-{i}", "v"u8.ToArray())));
            }

            var seen = new List<StoreChange>(Writes);
            while (seen.Count < Writes)
            {
                Assert.True(
                    await changes.MoveNextAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)),
                    $"the watch ended after {seen.Count} of {Writes} changes");
                if (changes.Current.Key?.StartsWith("burst/probe-", StringComparison.Ordinal) != true)
                {
                    seen.Add(changes.Current);
                }
            }

            Assert.Equal(written, seen);
        }
        finally
        {
            await stop.CancelAsync();
            await changes.DisposeAsync();
        }

        async Task<bool> WriteProbeAsync()
        {
            await Store.CreateAsync($"burst/probe-{probe++}", "p"u8.ToArray());
            return false;
        }
    }

    [StoreFact]
    public async Task A_watch_reports_a_reset_when_etcd_comes_back_with_its_data_gone_and_then_follows_the_new_history()
    {
        await StartOwnEtcdAsync();
        await using var watch = new WatchRecorder(Store, "config/", c => c.Key?.StartsWith("config/probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(probe => Store.CreateAsync($"config/probe-{probe}", "p"u8.ToArray()).AsTask());
        for (var i = 0; i < 10; i++)
        {
            await Store.CreateAsync($"config/before-{i}", "v"u8.ToArray());
        }

        for (var i = 0; i < 10; i++)
        {
            Assert.Equal($"config/before-{i}", (await watch.NextAsync($"create {i}")).Key);
        }

        await Etcd.StopAsync();
        await Etcd.StartEmptyAsync();

        Assert.Equal(StoreChangeKind.Reset, (await watch.NextAsync("a reset after etcd came back empty")).Kind);
        var created = await Store.CreateAsync("config/after-rebuild", "v"u8.ToArray());
        Assert.Equal(new StoreChange("config/after-rebuild", StoreChangeKind.Put, created), await watch.NextAsync("a write to the rebuilt etcd"));
        await watch.StopAsync();
    }

    [StoreFact]
    public async Task A_watch_whose_etcd_comes_back_as_another_cluster_further_on_reports_a_reset_instead_of_passing_on_that_cluster_history()
    {
        await StartOwnEtcdAsync();

        // The other cluster: a backup of another etcd, whose history under the same prefix is longer than the one
        // the watch has followed.
        using var temp = new TempDirectory();
        var snapshot = temp.Combine("other.db");
        await using (var other = await EtcdProcess.StartAsync())
        {
            var otherServices = new ServiceCollection();
            otherServices.AddTrousseau(_ => { }).UseEtcdStore(o => o.Endpoints.Add(other.ClientUrl));
            await using var provider = otherServices.BuildServiceProvider();
            for (var i = 0; i < 40; i++)
            {
                await provider.GetRequiredService<EtcdSecretStore>().CreateAsync($"config/other-{i}", "o"u8.ToArray());
            }

            await other.SaveSnapshotAsync(snapshot);
        }

        await using var watch = new WatchRecorder(Store, "config/", c => c.Key?.StartsWith("config/probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(probe => Store.CreateAsync($"config/probe-{probe}", "p"u8.ToArray()).AsTask());
        var created = await Store.CreateAsync("config/before", "v"u8.ToArray());
        Assert.Equal(new StoreChange("config/before", StoreChangeKind.Put, created), await watch.NextAsync("the write before the switch"));

        await Etcd.StopAsync();
        await Etcd.StartFromSnapshotAsync(snapshot, clusterToken: "restored-elsewhere");
        var afterSwitch = await watch.NextAsync("the first change after etcd came back as another cluster");
        var written = await Store.CreateAsync("config/after-switch", "v"u8.ToArray());

        Assert.True(created < 40, $"the first cluster reached revision {created}, not below the other's history");
        Assert.True(afterSwitch.Kind == StoreChangeKind.Reset, $"the watch passed on {afterSwitch} instead of a reset");
        Assert.Equal(new StoreChange("config/after-switch", StoreChangeKind.Put, written), await watch.NextAsync("a write to the other cluster"));
        await watch.StopAsync();
    }

    [StoreFact]
    public async Task After_etcd_comes_back_empty_with_its_old_flags_the_store_health_is_degraded_naming_the_revision_it_went_back_from()
    {
        await StartOwnEtcdAsync();
        for (var i = 0; i < 5; i++)
        {
            await Store.CreateAsync($"health/before-{i}", "v"u8.ToArray());
        }

        var before = await Store.CheckHealthAsync();
        var reached = (await Store.GetAsync("health/before-4"))!.Revision;
        await Etcd.StopAsync();
        await Etcd.StartEmptyAsync();
        var after = await Eventually.ReturnsAsync(
            async () => await Store.CheckHealthAsync(),
            health => health.Description.Contains("went back", StringComparison.Ordinal),
            awaited: "the store's health to say that etcd went back",
            show: health => health.Description);
        var created = await Store.CreateAsync("health/after", "v"u8.ToArray());

        Assert.False(before.IsDegraded, before.Description);
        Assert.True(after.IsHealthy && after.IsDegraded, after.Description);
        Assert.Contains($"etcd went back from revision {reached} to revision ", after.Description, StringComparison.Ordinal);
        Assert.Contains("secrets written before are not in it unless it was restored from a snapshot", after.Description, StringComparison.Ordinal);
        Assert.Equal(created, (await Store.GetAsync("health/after"))?.Revision);
    }

    [StoreFact]
    public async Task A_watcher_whose_etcd_comes_back_empty_with_its_old_flags_reports_the_store_degraded_though_its_own_calls_never_saw_the_lost_revisions()
    {
        await StartOwnEtcdAsync();

        // Another process writes; this one only watches, so its own calls never reach the revisions it sees through
        // the watch, and the health check's read alone cannot tell that etcd went back below them.
        var writerServices = new ServiceCollection();
        writerServices.AddTrousseau(_ => { }).UseEtcdStore(o => o.Endpoints.Add(Etcd.ClientUrl));
        await using var writer = writerServices.BuildServiceProvider();
        var writes = writer.GetRequiredService<EtcdSecretStore>();
        long firstProbe = 0;
        await using var watch = new WatchRecorder(Store, "config/", c => c.Key?.StartsWith("config/probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(async probe =>
        {
            var written = await writes.CreateAsync($"config/probe-{probe}", "p"u8.ToArray());
            firstProbe = firstProbe == 0 ? written : firstProbe;
        });
        long seen = 0;
        for (var i = 0; i < 20; i++)
        {
            seen = await writes.CreateAsync($"config/before-{i}", "v"u8.ToArray());
        }

        for (var i = 0; i < 20; i++)
        {
            Assert.Equal($"config/before-{i}", (await watch.NextAsync($"create {i}")).Key);
        }

        await Etcd.StopAsync();
        await Etcd.StartEmptyAsync();
        Assert.Equal(StoreChangeKind.Reset, (await watch.NextAsync("a reset after etcd came back empty")).Kind);

        // etcd back at or above every revision this store's own calls had reached (before the probes), still below
        // what its watch had seen.
        var now = 0L;
        for (var i = 0; now < firstProbe; i++)
        {
            now = await writes.CreateAsync($"config/after-{i}", "v"u8.ToArray());
        }

        var health = await Store.CheckHealthAsync();

        Assert.True(health.IsHealthy && health.IsDegraded, health.Description);
        Assert.Contains($"etcd went back from revision {seen} to revision ", health.Description, StringComparison.Ordinal);
    }

    [StoreFact]
    public async Task Concurrent_writes_and_reads_whose_answers_arrive_in_any_order_leave_the_store_health_not_degraded()
    {
        await Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (i, ct) =>
        {
            await Store.CreateAsync($"health/concurrent-{i}", "v"u8.ToArray(), ct);
            await Store.GetAsync($"health/concurrent-{i / 2}", ct);
        });

        var health = await Store.CheckHealthAsync();

        Assert.False(health.IsDegraded, health.Description);
    }

    [StoreFact]
    public async Task A_read_of_a_frozen_etcd_is_unavailable_naming_the_deadline_and_a_watch_opened_meanwhile_follows_once_it_thaws()
    {
        await StartOwnEtcdAsync();
        await Etcd.FreezeAsync();
        await using var watch = new WatchRecorder(Store, "config/", c => c.Key?.StartsWith("config/probe-", StringComparison.Ordinal) == true);

        // Begun after the watch's first call to etcd, so that call has met its deadline too when this one has.
        var refused = await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await Store.GetAsync("config/app"));
        await Etcd.ThawAsync();
        await watch.WaitUntilOpenAsync(probe => Store.CreateAsync($"config/probe-{probe}", "p"u8.ToArray()).AsTask());
        var created = await Store.CreateAsync("config/app", "v1"u8.ToArray());

        Assert.Contains("did not answer the range within 3 s", refused.Message, StringComparison.Ordinal);
        Assert.Equal(new StoreChange("config/app", StoreChangeKind.Put, created), await watch.NextAsync("create after the thaw"));
        await watch.StopAsync();
    }

    [StoreFact]
    public async Task A_watch_etcd_keeps_refusing_is_logged_once_a_minute_naming_the_member_turns_the_store_degraded_after_a_minute_and_is_logged_when_it_works_again()
    {
        await using var etcd = await EtcdProcess.StartAsync();
        await etcd.EnableAuthAsync("watcher", "etcd-pass-7", "/trousseau/");
        var member = $"member {etcd.ClientUrl.GetLeftPart(UriPartial.Authority)}";
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(clock);
        services.AddLogging(logging => logging.SetMinimumLevel(LogLevel.Debug).AddFakeLogging());
        services.AddTrousseau(_ => { }).UseEtcdStore(o =>
        {
            o.Endpoints.Add(etcd.ClientUrl);
            o.Username = "watcher";
            o.Password = "etcd-pass-7";
        });
        await using var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<EtcdSecretStore>();
        var logs = provider.GetFakeLogCollector();
        IReadOnlyList<FakeLogRecord> Logged(int eventId) => [.. logs.GetSnapshot().Where(r => r.Id.Id == eventId)];
        await using var watch = new WatchRecorder(store, "config/", c => c.Key?.StartsWith("config/probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(probe => store.CreateAsync($"config/probe-{probe}", "p"u8.ToArray()).AsTask());

        // The role may now read the health check's key only: etcd refuses the watch each time it is opened again.
        await etcd.CtlAsync("--user", "root:root-pass-1", "role", "revoke-permission", "watcher", "--prefix=true", "/trousseau/");
        await etcd.CtlAsync("--user", "root:root-pass-1", "role", "grant-permission", "watcher", "read", "/trousseau/health-probe");
        await etcd.StopAsync();
        await etcd.StartAgainAsync();
        await Eventually.HoldsAsync(
            () => Logged(2003).Count(r => r.Message.Contains("permission denied", StringComparison.Ordinal)) >= 3,
            () => string.Join(" | ", logs.GetSnapshot().Select(r => r.Message)),
            awaited: "three refusals of the watch");
        var firstMinute = Logged(2001);
        var early = await store.CheckHealthAsync();
        clock.Advance(TimeSpan.FromSeconds(61));
        var degraded = await Eventually.ReturnsAsync(
            async () => await store.CheckHealthAsync(),
            health => health.IsDegraded,
            awaited: "the store's health to say the watch fails",
            show: health => health.Description);
        var nextMinute = await Eventually.ReturnsAsync(
            () => Task.FromResult(Logged(2001)),
            warnings => warnings.Count == 2,
            awaited: "a second warning once a minute had passed",
            show: warnings => string.Join(" | ", warnings.Select(w => w.Message)));

        await etcd.CtlAsync("--user", "root:root-pass-1", "role", "grant-permission", "watcher", "--prefix=true", "readwrite", "/trousseau/");
        var works = await Eventually.ReturnsAsync(
            () => Task.FromResult(Logged(2002)),
            lines => lines.Count == 1,
            awaited: "the line saying the watch works again",
            show: lines => string.Join(" | ", logs.GetSnapshot().Select(r => r.Message)));
        var created = await store.CreateAsync("config/after", "v"u8.ToArray());
        var change = await watch.NextAsync("the write after the watch works again");
        var healthAfter = await store.CheckHealthAsync();

        var first = Assert.Single(firstMinute);
        Assert.Equal(LogLevel.Warning, first.Level);
        Assert.Contains(member, first.Message, StringComparison.Ordinal);
        Assert.EndsWith(".", first.Message, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Warning, nextMinute[1].Level);
        Assert.Contains($": etcd cancelled the watch at {member} (", nextMinute[1].Message, StringComparison.Ordinal);
        Assert.EndsWith("etcdserver: permission denied).", nextMinute[1].Message, StringComparison.Ordinal);
        Assert.False(early.IsDegraded, early.Description);
        Assert.True(degraded.IsHealthy && degraded.IsDegraded, degraded.Description);
        Assert.Contains("the watch of '/trousseau/config/' has been failing for 61 s", degraded.Description, StringComparison.Ordinal);
        Assert.Equal(LogLevel.Information, works[0].Level);
        Assert.Contains(member, works[0].Message, StringComparison.Ordinal);
        Assert.EndsWith(".", works[0].Message, StringComparison.Ordinal);
        Assert.Equal(new StoreChange("config/after", StoreChangeKind.Put, created), change);
        Assert.False(healthAfter.IsDegraded, healthAfter.Description);
        Assert.DoesNotContain(logs.GetSnapshot(), r => r.Message.Contains("etcd-pass-7", StringComparison.Ordinal));
        await watch.StopAsync();
    }

    [StoreFact]
    public async Task A_watch_whose_store_is_disposed_ends_with_the_error_instead_of_waiting_forever()
    {
        await using var watch = new WatchRecorder(Store, "config/", c => c.Key?.StartsWith("config/probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(probe => Store.CreateAsync($"config/probe-{probe}", "p"u8.ToArray()).AsTask());

        await _services!.DisposeAsync();

        Assert.IsType<ObjectDisposedException>(await watch.FaultAsync());
    }
}
