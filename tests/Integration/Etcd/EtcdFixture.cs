namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// One etcd shared by the tests of a class; each test keeps to keys of its own (its own prefix or names). Tests that
/// stop etcd, turn auth on or need other flags start their own.
/// </summary>
public sealed class EtcdFixture : IAsyncLifetime
{
    internal EtcdProcess Etcd { get; private set; } = null!;

    public async Task InitializeAsync() => Etcd = await EtcdProcess.StartAsync();

    public async Task DisposeAsync() => await Etcd.DisposeAsync();
}
