using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using dotnet_etcd;
using Etcdserverpb;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>The foundation's store contract, on a real etcd; each test under its own prefix.</summary>
public sealed class EtcdStoreContractTests(EtcdFixture fixture) : SecretStoreContract, IClassFixture<EtcdFixture>, IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private static readonly TimeSpan EtcdCallTimeout = TimeSpan.FromSeconds(10);

    private readonly List<ServiceProvider> _providers = [];

    protected override ISecretStore OpenStore() => OpenStore($"/contract-{Guid.NewGuid():N}/");

    private Trousseau.Etcd.EtcdSecretStore OpenStore(string prefix, params Uri[] endpoints)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o =>
        {
            foreach (var endpoint in endpoints is [] ? [fixture.Etcd.ClientUrl] : endpoints)
            {
                o.Endpoints.Add(endpoint);
            }

            o.Prefix = prefix;
        });
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<Trousseau.Etcd.EtcdSecretStore>();
    }

    [StoreFact]
    public async Task Once_its_service_provider_is_disposed_every_call_throws_ObjectDisposedException_naming_the_etcd_store()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o =>
        {
            o.Endpoints.Add(fixture.Etcd.ClientUrl);
            o.Prefix = $"/disposed-{Guid.NewGuid():N}/";
        });
        var provider = services.BuildServiceProvider();
        var store = provider.GetRequiredService<Trousseau.Etcd.EtcdSecretStore>();
        await store.CreateAsync("kept", "v"u8.ToArray());
        await provider.DisposeAsync();

        var calls = new Func<Task>[]
        {
            async () => await store.GetAsync("kept"),
            async () => await store.CreateAsync("new", "v"u8.ToArray()),
            async () => await store.UpdateAsync("kept", "w"u8.ToArray(), 1),
            async () => await store.DeleteAsync("kept"),
            async () => await store.ListAsync(string.Empty, null, 10),
            async () => await store.CheckHealthAsync(),
            async () => await store.WatchAsync(string.Empty).GetAsyncEnumerator().MoveNextAsync(),
        };

        foreach (var call in calls)
        {
            var error = await Assert.ThrowsAsync<ObjectDisposedException>(call);
            Assert.StartsWith($"The etcd store (member {fixture.Etcd.ClientUrl.GetLeftPart(UriPartial.Authority)}) has been disposed", error.Message, StringComparison.Ordinal);
        }
    }

    [StoreFact]
    public async Task Listing_more_keys_than_one_page_returns_each_exactly_once_in_order()
    {
        var store = OpenStore();
        var names = Enumerable.Range(0, 1234).Select(i => $"paged/{i:D4}").ToList();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (name, ct) => await store.CreateAsync(name, "v"u8.ToArray(), ct));

        var listed = new List<string>();
        StorePage page;
        do
        {
            page = await store.ListAsync("paged/", listed.LastOrDefault(), limit: 500);
            listed.AddRange(page.Entries.Select(e => e.Key));
        }
        while (page.HasMore);

        Assert.Equal(names, listed);
    }

    [StoreFact]
    public async Task Listings_while_etcd_compacts_its_history_up_to_each_new_write_all_succeed()
    {
        var store = OpenStore();
        for (var i = 0; i < 20; i++)
        {
            await store.CreateAsync($"listed/{i:D2}", "v"u8.ToArray());
        }

        // Another client writes and compacts right up to each write, as fast as it can: the history a listing read
        // its keys at may be compacted before it reads their head entries.
        using var etcd = new EtcdClient(fixture.Etcd.ClientUrl.GetLeftPart(UriPartial.Authority));
        using var stop = new CancellationTokenSource();
        var compactions = 0;
        var compactor = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var put = await etcd.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8($"/compacted-{Guid.NewGuid():N}"), Value = ByteString.CopyFromUtf8("c") });
                await etcd.CompactAsync(new CompactionRequest { Revision = put.Header.Revision });
                Interlocked.Increment(ref compactions);
            }
        });
        await Eventually.HoldsAsync(() => Volatile.Read(ref compactions) > 0, () => "no compaction yet");
        var failures = new List<string>();
        for (var i = 0; i < 300; i++)
        {
            try
            {
                Assert.Equal(20, (await store.ListAsync("listed/", null, limit: 50)).Entries.Count);
            }
            catch (TrousseauException e)
            {
                failures.Add(e.Message);
            }
        }

        await stop.CancelAsync();
        await compactor;

        Assert.True(failures.Count == 0, $"{failures.Count} of 300 listings failed, the first with: {failures.FirstOrDefault()}");
    }

    [StoreFact]
    public async Task Listings_while_another_writer_updates_a_record_show_each_head_with_the_revision_it_was_written_at()
    {
        var prefix = $"/contract-{Guid.NewGuid():N}/";
        var store = OpenStore(prefix);
        var writer = OpenStore(prefix);
        var revision = await store.CreateAsync("raced/one", "v0"u8.ToArray());
        var written = new ConcurrentDictionary<long, string> { [revision] = "v0" };

        // Another writer updates the record as fast as it can: a write may land between a listing's read of the names
        // and its read of their heads.
        using var stop = new CancellationTokenSource();
        var updates = Task.Run(async () =>
        {
            for (var i = 1; !stop.IsCancellationRequested; i++)
            {
                var value = $"v{i}";
                revision = await writer.UpdateAsync("raced/one", Encoding.UTF8.GetBytes(value), revision);
                written[revision] = value;
            }
        });
        await Eventually.HoldsAsync(() => written.Count > 1, () => "no update yet");
        var listed = new List<(long Revision, string Head)>();
        for (var i = 0; i < 300; i++)
        {
            var entry = Assert.Single((await store.ListAsync("raced/", null, limit: 10)).Entries);
            listed.Add((entry.Revision, Encoding.UTF8.GetString(entry.Head.Span)));
        }

        await stop.CancelAsync();
        await updates;

        var mismatched = listed.Where(l => written[l.Revision] != l.Head).ToList();
        Assert.True(
            mismatched.Count == 0,
            $"{mismatched.Count} of 300 listings showed a head with another write's revision, the first {mismatched.FirstOrDefault()} (written there: {(mismatched.Count == 0 ? "" : written[mismatched[0].Revision])})");
    }

    [StoreFact]
    public async Task An_endpoint_down_from_the_start_is_left_out_and_every_call_goes_to_the_live_one()
    {
        var prefix = $"/contract-{Guid.NewGuid():N}/";
        var down = new Uri($"http://127.0.0.1:{Infrastructure.FreePort.Next()}/");
        var store = OpenStore(prefix, down, fixture.Etcd.ClientUrl);

        var created = new List<long?>();
        var read = new List<long?>();
        for (var i = 0; i < 10; i++)
        {
            created.Add(await store.CreateAsync($"down/{i}", "v"u8.ToArray()));
            read.Add((await store.GetAsync($"down/{i}"))?.Revision);
        }

        var health = await store.CheckHealthAsync();
        Assert.Equal(created, read);
        Assert.True(health.IsHealthy, health.Description);
    }

    [StoreFact]
    public async Task A_record_written_without_a_head_entry_is_listed_and_given_one()
    {
        var prefix = $"/contract-{Guid.NewGuid():N}/";
        var store = OpenStore(prefix);
        var value = RandomNumberGenerator.GetBytes(4096);

        // What a build from before head entries wrote: the record alone.
        await PutAsync(prefix + "legacy/a", value);
        var listed = Assert.Single((await store.ListAsync("legacy/", startAfter: null, limit: 10)).Entries);

        Assert.Equal(("legacy/a", Convert.ToHexString(value[..StoreEntryHead.MaxLength])), (listed.Key, Convert.ToHexString(listed.Head.Span)));
        Assert.Equal((await store.GetAsync("legacy/a"))!.Revision, listed.Revision);
        Assert.Equal(value[..StoreEntryHead.MaxLength], await RangeValueAsync([.. Encoding.UTF8.GetBytes(prefix), 0xFF, .. "legacy/a"u8]));
    }

    [StoreFact]
    public async Task A_record_rewritten_without_its_head_entry_lists_as_rewritten()
    {
        var prefix = $"/contract-{Guid.NewGuid():N}/";
        var store = OpenStore(prefix);
        await store.CreateAsync("legacy/b", "first"u8.ToArray());

        await PutAsync(prefix + "legacy/b", "second"u8.ToArray());
        var listed = Assert.Single((await store.ListAsync("legacy/", startAfter: null, limit: 10)).Entries);

        Assert.Equal("second", Encoding.UTF8.GetString(listed.Head.Span));
        Assert.Equal((await store.GetAsync("legacy/b"))!.Revision, listed.Revision);
    }

    [StoreFact]
    public async Task Head_entries_never_show_in_a_listing_or_a_watch_of_everything()
    {
        var store = OpenStore($"/contract-{Guid.NewGuid():N}/");
        await using var watch = new WatchRecorder(store, "", c => c.Key?.StartsWith("probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(probe => store.CreateAsync($"probe-{probe}", "p"u8.ToArray()).AsTask());

        await store.CreateAsync("all/one", "1"u8.ToArray());
        await store.CreateAsync("all/two", "2"u8.ToArray());
        await store.DeleteAsync("all/one");
        var listed = (await store.ListAsync("", startAfter: null, limit: 100)).Entries.Select(e => e.Key).ToList();
        List<(string?, StoreChangeKind)> changes = [];
        foreach (var write in new[] { "create of all/one", "create of all/two", "delete of all/one" })
        {
            var change = await watch.NextAsync(write);
            changes.Add((change.Key, change.Kind));
        }

        Assert.Equal(["all/two"], listed.Where(k => !k.StartsWith("probe-", StringComparison.Ordinal)));
        Assert.Equal([("all/one", StoreChangeKind.Put), ("all/two", StoreChangeKind.Put), ("all/one", StoreChangeKind.Delete)], changes);
        await watch.StopAsync();
    }

    [StoreFact]
    public async Task A_write_whose_answer_is_lost_after_etcd_applied_it_is_reported_as_done()
    {
        await using var proxy = AnswerDroppingProxy.Start(fixture.Etcd.ClientUrl);
        var (store, direct) = OpenBehind(proxy);
        await store.CreateAsync("lost/warm-up", "w"u8.ToArray());

        var created = await AfterLostAnswerAsync(proxy, () => store.CreateAsync("lost/one", "v1"u8.ToArray()).AsTask(), async () => await direct.GetAsync("lost/one") is not null);
        var afterCreate = await direct.GetAsync("lost/one");
        var updated = await AfterLostAnswerAsync(proxy, () => store.UpdateAsync("lost/one", "v2"u8.ToArray(), created).AsTask(), async () => (await direct.GetAsync("lost/one"))?.Revision != created);
        var afterUpdate = await direct.GetAsync("lost/one");
        await AfterLostAnswerAsync(proxy, async () => { await store.DeleteAsync("lost/one", updated); return 0; }, async () => await direct.GetAsync("lost/one") is null);

        Assert.Equal(("v1", created), (Encoding.UTF8.GetString(afterCreate!.Value.Span), afterCreate.Revision));
        Assert.Equal(("v2", updated), (Encoding.UTF8.GetString(afterUpdate!.Value.Span), afterUpdate.Revision));
        Assert.Null(await direct.GetAsync("lost/one"));
    }

    [StoreFact]
    public async Task A_delete_whose_answer_is_lost_while_another_writer_puts_the_secret_back_is_not_reported_as_done()
    {
        await using var proxy = AnswerDroppingProxy.Start(fixture.Etcd.ClientUrl);
        var (store, direct) = OpenBehind(proxy);
        var created = await store.CreateAsync("lost/back", "v1"u8.ToArray());
        long? putBack = null;

        // Once etcd shows the delete applied, and before its caller learns anything, another writer creates the secret again.
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(() => AfterLostAnswerAsync(
            proxy,
            async () => { await store.DeleteAsync("lost/back", created); return 0; },
            async () => await direct.GetAsync("lost/back") is null && (putBack = await direct.CreateAsync("lost/back", "v2"u8.ToArray())) is not null));

        Assert.Contains("may or may not have been applied", error.Message, StringComparison.Ordinal);
        var kept = await direct.GetAsync("lost/back");
        Assert.Equal(("v2", putBack), (Encoding.UTF8.GetString(kept!.Value.Span), (long?)kept.Revision));
    }

    [StoreFact]
    public async Task A_create_whose_answer_is_lost_while_another_writer_overwrites_it_is_not_reported_as_done_at_the_other_writers_revision()
    {
        await using var proxy = AnswerDroppingProxy.Start(fixture.Etcd.ClientUrl);
        var (store, direct) = OpenBehind(proxy);
        await store.CreateAsync("lost/warm-up", "w"u8.ToArray());
        long? overwritten = null;

        // Once etcd shows the create applied, and before its caller learns anything, another writer replaces the value.
        var error = await Assert.ThrowsAsync<DependencyUnavailableException>(() => AfterLostAnswerAsync(
            proxy,
            () => store.CreateAsync("lost/taken", "mine"u8.ToArray()).AsTask(),
            async () => await direct.GetAsync("lost/taken") is { } created
                && (overwritten = await direct.UpdateAsync("lost/taken", "theirs"u8.ToArray(), created.Revision)) is not null));

        Assert.Contains("may or may not have been applied", error.Message, StringComparison.Ordinal);
        var kept = await direct.GetAsync("lost/taken");
        Assert.Equal(("theirs", overwritten), (Encoding.UTF8.GetString(kept!.Value.Span), (long?)kept.Revision));
    }

    [StoreFact]
    public async Task The_first_write_once_etcd_can_be_reached_again_goes_through()
    {
        var prefix = $"/contract-{Guid.NewGuid():N}/";
        await using var proxy = AnswerDroppingProxy.Start(fixture.Etcd.ClientUrl);
        var store = OpenStore(prefix, proxy.Url);
        await store.CreateAsync("back/warm-up", "w"u8.ToArray());

        proxy.Unplug();
        await Assert.ThrowsAsync<DependencyUnavailableException>(async () => await store.GetAsync("back/warm-up"));
        proxy.ListenAgain();
        var created = await store.CreateAsync("back/one", "v1"u8.ToArray());

        Assert.Equal(created, (await OpenStore(prefix).GetAsync("back/one"))?.Revision);
    }

    [StoreFact]
    public async Task A_watch_that_missed_compacted_history_reports_a_reset_then_follows_again()
    {
        await using var proxy = AnswerDroppingProxy.Start(fixture.Etcd.ClientUrl);
        var (watched, direct) = OpenBehind(proxy);
        await using var watch = new WatchRecorder(watched, "", c => c.Key?.StartsWith("probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(probe => direct.CreateAsync($"probe-{probe}", "p"u8.ToArray()).AsTask());

        proxy.CutAndRefuse();
        await direct.CreateAsync("missed/one", "1"u8.ToArray());
        var last = await direct.CreateAsync("missed/two", "2"u8.ToArray());
        await fixture.Etcd.CtlAsync("compact", last.ToString(System.Globalization.CultureInfo.InvariantCulture));
        proxy.CutAndHeal();
        var reset = await watch.NextAsync("reset after the compaction");
        await watch.WaitUntilOpenAsync(probe => direct.CreateAsync($"probe-again-{probe}", "p"u8.ToArray()).AsTask());
        var after = await direct.CreateAsync("followed", "3"u8.ToArray());

        Assert.Equal(StoreChangeKind.Reset, reset.Kind);
        Assert.Equal(new StoreChange("followed", StoreChangeKind.Put, after), await watch.NextAsync("write after the reset"));
        await watch.StopAsync();
    }

    [StoreFact]
    public async Task A_write_made_as_soon_as_a_compaction_reset_is_seen_is_reported_by_the_watch()
    {
        await using var proxy = AnswerDroppingProxy.Start(fixture.Etcd.ClientUrl);
        var (watched, direct) = OpenBehind(proxy);
        await using var watch = new WatchRecorder(watched, "", c => c.Key?.StartsWith("probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(probe => direct.CreateAsync($"probe-{probe}", "p"u8.ToArray()).AsTask());

        proxy.CutAndRefuse();
        await direct.CreateAsync("missed/one", "1"u8.ToArray());
        var last = await direct.CreateAsync("missed/two", "2"u8.ToArray());
        await fixture.Etcd.CtlAsync("compact", last.ToString(System.Globalization.CultureInfo.InvariantCulture));
        proxy.CutAndHeal();
        Assert.Equal(StoreChangeKind.Reset, (await watch.NextAsync("reset after the compaction")).Kind);
        var after = await direct.CreateAsync("written-at-once", "3"u8.ToArray());

        // A reader reloads what it follows once it sees the reset; a write made after that must come through the watch.
        Assert.Equal(new StoreChange("written-at-once", StoreChangeKind.Put, after), await watch.NextAsync("the write made at once"));
        await watch.StopAsync();
    }

    /// <summary>A store under a prefix of its own that reaches etcd through <paramref name="proxy"/>, and one under the same prefix that reaches etcd directly.</summary>
    private (Trousseau.Etcd.EtcdSecretStore Proxied, Trousseau.Etcd.EtcdSecretStore Direct) OpenBehind(AnswerDroppingProxy proxy)
    {
        var prefix = $"/contract-{Guid.NewGuid():N}/";
        return (OpenStore(prefix, proxy.Url), OpenStore(prefix));
    }

    /// <summary>
    /// Runs <paramref name="write"/> while the proxy swallows etcd's answers; once etcd shows the write applied
    /// (<paramref name="applied"/>), cuts the connection under the waiting call, and returns what the call answers.
    /// </summary>
    private static async Task<long> AfterLostAnswerAsync(AnswerDroppingProxy proxy, Func<Task<long>> write, Func<Task<bool>> applied)
    {
        proxy.DropAnswers();
        var call = write();
        await Infrastructure.Eventually.HoldsAsync(applied, () => "etcd never applied the write sent through the proxy");
        Assert.False(call.IsCompleted, "the write answered although etcd's answer was swallowed");
        proxy.CutAndHeal();
        return await call;
    }

    /// <summary>Writes <paramref name="value"/> under <paramref name="key"/> with etcd's own client, bypassing the store.</summary>
    private async Task PutAsync(string key, byte[] value)
    {
        using var etcd = new EtcdClient(fixture.Etcd.ClientUrl.GetLeftPart(UriPartial.Authority));
        await etcd.PutAsync(new PutRequest { Key = ByteString.CopyFromUtf8(key), Value = ByteString.CopyFrom(value) }, deadline: DateTime.UtcNow.Add(EtcdCallTimeout));
    }

    /// <summary>What etcd holds under <paramref name="key"/> (empty when nothing), read with etcd's own client.</summary>
    private async Task<byte[]> RangeValueAsync(byte[] key)
    {
        using var etcd = new EtcdClient(fixture.Etcd.ClientUrl.GetLeftPart(UriPartial.Authority));
        var range = await etcd.GetAsync(new RangeRequest { Key = ByteString.CopyFrom(key) }, deadline: DateTime.UtcNow.Add(EtcdCallTimeout));
        return range.Kvs.Count == 0 ? [] : range.Kvs[0].Value.ToByteArray();
    }

    public void Dispose()
    {
        foreach (var provider in _providers)
        {
            provider.Dispose();
        }
    }
}
