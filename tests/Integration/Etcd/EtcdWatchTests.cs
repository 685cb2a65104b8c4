using System.Threading.Channels;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Etcd;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>Change notifications from a real etcd, across an etcd restart.</summary>
public sealed class EtcdWatchTests : IAsyncLifetime
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private EtcdProcess _etcd = null!;
    private ServiceProvider _services = null!;

    private EtcdSecretStore Store => _services.GetRequiredService<EtcdSecretStore>();

    public async Task InitializeAsync()
    {
        _etcd = await EtcdProcess.StartAsync();
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o => o.Endpoints.Add(_etcd.ClientUrl));
        _services = services.BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _etcd.DisposeAsync();
    }

    [StoreFact]
    public async Task A_watch_reports_puts_and_deletes_under_its_prefix_only_and_survives_an_etcd_restart()
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var seen = Channel.CreateUnbounded<StoreChange>();
        var watching = Task.Run(async () =>
        {
            await foreach (var change in Store.WatchAsync("config/", stop.Token))
            {
                await seen.Writer.WriteAsync(change);
            }
        });

        // The watch starts at the revision current when it opens: write probes until it reports one.
        for (var probe = 0; ; probe++)
        {
            await Store.CreateAsync($"config/probe-{probe}", "p"u8.ToArray());
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            if (await seen.Reader.WaitToReadAsync(wait.Token).AsTask().ContinueWith(t => t.IsCompletedSuccessfully, TaskScheduler.Default))
            {
                break;
            }
        }

        var created = await Store.CreateAsync("config/app", "v1"u8.ToArray());
        await Store.CreateAsync("other/app", "x"u8.ToArray());
        var updated = await Store.UpdateAsync("config/app", "v2"u8.ToArray(), created);
        await Store.DeleteAsync("config/app");

        Assert.Equal(new StoreChange("config/app", StoreChangeKind.Put, created), await NextAsync(seen));
        Assert.Equal(new StoreChange("config/app", StoreChangeKind.Put, updated), await NextAsync(seen));
        Assert.Equal(StoreChangeKind.Delete, (await NextAsync(seen)).Kind);

        await _etcd.StopAsync();
        await _etcd.StartAgainAsync();
        var afterRestart = await Store.CreateAsync("config/after-restart", "v"u8.ToArray());

        Assert.Equal(new StoreChange("config/after-restart", StoreChangeKind.Put, afterRestart), await NextAsync(seen));
        await stop.CancelAsync();
        await watching.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>The next change that is not a probe; a change outside the prefix would show up here and fail the test.</summary>
    private static async Task<StoreChange> NextAsync(Channel<StoreChange> seen)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var change = await seen.Reader.ReadAsync(timeout.Token);
            if (change.Key?.StartsWith("config/probe-", StringComparison.Ordinal) != true)
            {
                return change;
            }
        }
    }
}
