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

    public void Dispose()
    {
        foreach (var provider in _providers)
        {
            provider.Dispose();
        }
    }
}
