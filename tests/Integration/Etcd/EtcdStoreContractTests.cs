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

    protected override ISecretStore OpenStore()
    {
        var services = new ServiceCollection();
        services.AddTrousseau(_ => { }).UseEtcdStore(o =>
        {
            o.Endpoints.Add(fixture.Etcd.ClientUrl);
            o.Prefix = $"/contract-{Guid.NewGuid():N}/";
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
        await foreach (var entry in store.ListAsync("paged/"))
        {
            listed.Add(entry.Key);
        }

        Assert.Equal(names, listed);
    }

    public void Dispose()
    {
        foreach (var provider in _providers)
        {
            provider.Dispose();
        }
    }
}
