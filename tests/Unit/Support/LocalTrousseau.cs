using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Tests.Unit.Support;

/// <summary>The in-process library as an application gets it: from DI, with the local key ring and the in-memory store.</summary>
internal sealed class LocalTrousseau : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly ServiceProvider _services;

    /// <param name="time">The clock, when not the system's.</param>
    /// <param name="decorateStore">Wraps the in-memory store that the library then uses, when given.</param>
    public LocalTrousseau(TimeProvider? time = null, Func<ISecretStore, ISecretStore>? decorateStore = null)
    {
        var services = new ServiceCollection();
        if (time is not null)
        {
            services.AddSingleton(time);
        }

        if (decorateStore is not null)
        {
            services.AddSingleton(sp => decorateStore(sp.GetRequiredService<InMemorySecretStore>()));
        }

        services.AddTrousseau(_ => { })
            .UseLocalKeyRing(ring => ring.KeyFile = _directory.Combine("ring.json"))
            .UseInMemoryStore();
        _services = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public IServiceProvider Services => _services;

    public ITrousseau Trousseau => _services.GetRequiredService<ITrousseau>();

    public ISecretStore Store => _services.GetRequiredService<ISecretStore>();

    public IKeyAdministration Keys => _services.GetRequiredService<IKeyAdministration>();

    public IKeyProvider Provider => _services.GetRequiredService<IKeyProvider>();

    public void Dispose()
    {
        _services.Dispose();
        _directory.Dispose();
    }
}
