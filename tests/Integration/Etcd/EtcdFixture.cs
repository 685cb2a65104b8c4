namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// One etcd shared by the tests of a class; each test keeps to keys of its own (its own prefix or names). Tests that
/// stop etcd, turn auth on or need other flags start their own. Where etcd tests are skipped (etcd is not installed,
/// outside CI), none is started, so a class may mix them with tests that need no etcd.
/// </summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    internal EtcdProcess Etcd { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (EtcdProcess.SkipReason is null)
        {
            Etcd = await EtcdProcess.StartAsync();
        }
    }

    public async Task DisposeAsync()
    {
        if (Etcd is not null)
        {
            await Etcd.DisposeAsync();
        }
    }
}
