using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Trousseau.Etcd;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>The etcd store signed in with a user name and password, on an etcd of its own with auth on.</summary>
public sealed class EtcdAuthTests : IAsyncLifetime
{
    /// <summary>Read by <see cref="StoreFactAttribute"/>: skip when etcd is missing outside CI.</summary>
    public static string? SkipReason => EtcdProcess.SkipReason;

    private EtcdProcess _etcd = null!;
    private ServiceProvider _services = null!;

    private EtcdSecretStore Store => _services.GetRequiredService<EtcdSecretStore>();

    public async Task InitializeAsync()
    {
        _etcd = await EtcdProcess.StartAsync();
        await _etcd.EnableAuthAsync("trousseau", "etcd-pass-3", "/trousseau/");
        _services = SignedIn(_etcd.ClientUrl);
    }

    /// <summary>A store of its own (its own channel and token) signed in as the test user through <paramref name="endpoint"/>.</summary>
    private static ServiceProvider SignedIn(Uri endpoint)
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o =>
        {
            o.Endpoints.Add(endpoint);
            o.Username = "trousseau";
            o.Password = "etcd-pass-3";
        });
        return services.BuildServiceProvider();
    }

    /// <summary>
    /// Setting a user's password, even to the same one, makes etcd refuse every token it gave that user, with the
    /// answer a token past etcd's <c>--auth-token-ttl</c> gets: "invalid auth token".
    /// </summary>
    private Task RevokeTokensAsync() =>
        _etcd.CtlWithInputAsync("etcd-pass-3\n", "--user", "root:root-pass-1", "user", "passwd", "trousseau", "--interactive=false");

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _etcd.DisposeAsync();
    }

    [StoreFact]
    public async Task When_etcd_drops_the_token_the_store_signs_in_again_without_failing_a_call()
    {
        var created = await Store.CreateAsync("auth/one", "v1"u8.ToArray());

        await RevokeTokensAsync();
        var entry = await Store.GetAsync("auth/one");
        var updated = await Store.UpdateAsync("auth/one", "v2"u8.ToArray(), created);

        Assert.Equal(created, entry?.Revision);
        Assert.True(updated > created, $"the update answered revision {updated} after the create's {created}");
    }

    [StoreFact]
    public async Task However_often_etcd_refuses_the_token_each_read_and_transaction_signs_in_again()
    {
        var revision = await Store.CreateAsync("auth/many", "v0"u8.ToArray());

        // Ten refusals of each kind: gRPC's retry throttling, left on, stopped the retry after the fifth.
        for (var i = 1; i <= 10; i++)
        {
            await RevokeTokensAsync();
            Assert.Equal(revision, (await Store.GetAsync("auth/many"))?.Revision);
            await RevokeTokensAsync();
            revision = await Store.UpdateAsync("auth/many", Encoding.UTF8.GetBytes($"v{i}"), revision);
        }

        Assert.Equal("v10", Encoding.UTF8.GetString((await Store.GetAsync("auth/many"))!.Value.Span));
    }

    [StoreFact]
    public async Task A_watch_that_reconnects_once_its_token_is_refused_signs_in_again_and_reports_the_next_write()
    {
        await using var proxy = AnswerDroppingProxy.Start(_etcd.ClientUrl);
        await using var watchedServices = SignedIn(proxy.Url);
        var watched = watchedServices.GetRequiredService<EtcdSecretStore>();
        await using var watch = new WatchRecorder(watched, "auth/watched/", c => c.Key?.StartsWith("auth/watched/probe-", StringComparison.Ordinal) == true);
        await watch.WaitUntilOpenAsync(probe => Store.CreateAsync($"auth/watched/probe-{probe}", "p"u8.ToArray()).AsTask());

        // The open watch outlives its token; its next stream, after the connection is lost, presents it again.
        await RevokeTokensAsync();
        proxy.CutAndHeal();
        var created = await Store.CreateAsync("auth/watched/after", "v"u8.ToArray());

        Assert.Equal(new StoreChange("auth/watched/after", StoreChangeKind.Put, created), await watch.NextAsync("write after the watch lost its connection and token"));
        await watch.StopAsync();
    }

}
