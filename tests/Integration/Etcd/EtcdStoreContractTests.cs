using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>Starts one etcd for a test class.</summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    internal EtcdProcess Etcd { get; private set; } = null!;

    public async Task InitializeAsync() => Etcd = await EtcdProcess.StartAsync();

    public async Task DisposeAsync() => await Etcd.DisposeAsync();
}

/// <summary>The foundation's store contract, on a real etcd; each test under its own prefix.</summary>
public sealed class EtcdStoreContractTests(EtcdFixture fixture) : SecretStoreContract, IClassFixture<EtcdFixture>, IDisposable
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private readonly List<ServiceProvider> _providers = [];

    protected override ISecretStore OpenStore() => OpenStore($"/contract-{Guid.NewGuid():N}/");

    private Trousseau.Etcd.EtcdSecretStore OpenStore(string prefix)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o =>
        {
            o.Endpoints.Add(fixture.Etcd.ClientUrl);
            o.Prefix = prefix;
        });
        var provider = services.BuildServiceProvider();
        _providers.Add(provider);
        return provider.GetRequiredService<Trousseau.Etcd.EtcdSecretStore>();
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
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        var seen = Channel.CreateUnbounded<StoreChange>();
        var watching = Task.Run(async () =>
        {
            await foreach (var change in store.WatchAsync("", stop.Token))
            {
                await seen.Writer.WriteAsync(change);
            }
        });

        // The watch starts at the revision current when it opens: write probes until it reports one.
        for (var probe = 0; ; probe++)
        {
            await store.CreateAsync($"probe-{probe}", "p"u8.ToArray());
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            if (await seen.Reader.WaitToReadAsync(wait.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default))
            {
                break;
            }
        }

        await store.CreateAsync("all/one", "1"u8.ToArray());
        await store.CreateAsync("all/two", "2"u8.ToArray());
        await store.DeleteAsync("all/one");
        var listed = (await store.ListAsync("", startAfter: null, limit: 100)).Entries.Select(e => e.Key).ToList();
        var changes = new List<(string?, StoreChangeKind)>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (changes.Count < 3)
        {
            var change = await seen.Reader.ReadAsync(timeout.Token);
            if (change.Key?.StartsWith("probe-", StringComparison.Ordinal) != true)
            {
                changes.Add((change.Key, change.Kind));
            }
        }

        Assert.Equal(["all/two"], listed.Where(k => !k.StartsWith("probe-", StringComparison.Ordinal)));
        Assert.Equal([("all/one", StoreChangeKind.Put), ("all/two", StoreChangeKind.Put), ("all/one", StoreChangeKind.Delete)], changes);
        await stop.CancelAsync();
        await watching.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    private async Task PutAsync(string key, byte[] value)
    {
        using var http = new HttpClient { BaseAddress = fixture.Etcd.ClientUrl };
        using var response = await http.PostAsJsonAsync("v3/kv/put", new { key = Convert.ToBase64String(Encoding.UTF8.GetBytes(key)), value = Convert.ToBase64String(value) });
        response.EnsureSuccessStatusCode();
    }

    private async Task<byte[]> RangeValueAsync(byte[] key)
    {
        using var http = new HttpClient { BaseAddress = fixture.Etcd.ClientUrl };
        using var response = await http.PostAsJsonAsync("v3/kv/range", new { key = Convert.ToBase64String(key) });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.TryGetProperty("kvs", out var kvs) ? Convert.FromBase64String(kvs[0].GetProperty("value").GetString()!) : [];
    }

    public void Dispose()
    {
        foreach (var provider in _providers)
        {
            provider.Dispose();
        }
    }
}
