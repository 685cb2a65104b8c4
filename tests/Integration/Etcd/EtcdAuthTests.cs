using Microsoft.Extensions.DependencyInjection;
using Trousseau.Etcd;
using Trousseau.Tests.StoreContract;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>The etcd store signed in with a user name and password, on an etcd of its own (it restarts).</summary>
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
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o =>
        {
            o.Endpoints.Add(_etcd.ClientUrl);
            o.Username = "trousseau";
            o.Password = "etcd-pass-3";
        });
        _services = services.BuildServiceProvider();
    }

    public async Task DisposeAsync()
    {
        await _services.DisposeAsync();
        await _etcd.DisposeAsync();
    }

    [StoreFact]
    public async Task When_etcd_no_longer_knows_the_token_the_store_signs_in_again_without_failing_a_call()
    {
        var created = await Store.CreateAsync("auth/one", "v1"u8.ToArray());

        // etcd keeps its auth tokens in memory: after a restart it refuses the store's token as invalid.
        await _etcd.StopAsync();
        await _etcd.StartAgainAsync();
        var entry = await FirstAnswerAfterReconnectAsync(() => Store.GetAsync("auth/one").AsTask());
        var updated = await Store.UpdateAsync("auth/one", "v2"u8.ToArray(), created);

        Assert.Equal(created, entry?.Revision);
        Assert.True(updated > created, $"the update answered revision {updated} after the create's {created}");
    }

    /// <summary>
    /// The first answer once the store is connected again: while it reconnects a call may find etcd unreachable,
    /// which is retried here; any other failure (a refusal of the credentials included) fails the test.
    /// </summary>
    private static async Task<T> FirstAnswerAfterReconnectAsync<T>(Func<Task<T>> call)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            try
            {
                return await call();
            }
            catch (DependencyUnavailableException e) when (!e.Message.Contains("credentials", StringComparison.Ordinal))
            {
                Assert.True(DateTime.UtcNow < deadline, $"the store did not reach etcd again within 30 s: {e.Message}");
                await Task.Delay(50);
            }
        }
    }
}
