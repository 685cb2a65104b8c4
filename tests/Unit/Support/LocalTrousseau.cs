using Microsoft.Extensions.DependencyInjection;

namespace Trousseau.Tests.Unit.Support;

/// <summary>The in-process library as an application gets it: from DI, with the local key ring and the in-memory store.</summary>
internal sealed class LocalTrousseau : IDisposable
{
    private readonly TempDirectory _directory = new();
    private readonly ServiceProvider _services;

    public LocalTrousseau(TimeProvider? time = null)
    {
        var services = new ServiceCollection();
        if (time is not null)
        {
            services.AddSingleton(time);
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

    public void Dispose()
    {
        _services.Dispose();
        _directory.Dispose();
    }
}
