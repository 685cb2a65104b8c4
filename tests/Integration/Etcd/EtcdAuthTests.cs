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
    public async Task When_etcd_drops_the_token_the_store_signs_in_again_without_failing_a_call()
    {
        var created = await Store.CreateAsync("auth/one", "v1"u8.ToArray());

        // Setting a user's password, even to the same one, makes etcd refuse every token it gave that user.
        await _etcd.CtlWithInputAsync("etcd-pass-3\n", "--user", "root:root-pass-1", "user", "passwd", "trousseau", "--interactive=false");
        var entry = await Store.GetAsync("auth/one");
        var updated = await Store.UpdateAsync("auth/one", "v2"u8.ToArray(), created);

        Assert.Equal(created, entry?.Revision);
        Assert.True(updated > created, $"the update answered revision {updated} after the create's {created}");
    }
}
