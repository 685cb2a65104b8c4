namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// Passes calls to a real key provider, but answers every unwrap as unavailable, once <see cref="BeforeOutage"/> has
/// completed, as Vault sealed or out of reach does: a rewrap can move the records whose data keys are cached and then
/// meet the outage at the first record it must unwrap.
/// </summary>
internal sealed class OutageKeyProvider(IKeyProvider inner) : IKeyProvider
{
    /// <summary>Awaited by each unwrap before it fails; none by default.</summary>
    public Func<Task> BeforeOutage { get; set; } = () => Task.CompletedTask;

    public string Name => inner.Name;

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.GetCurrentKeyAsync(cancellationToken);

    public ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.RefreshCurrentKeyAsync(cancellationToken);

    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default) => inner.WrapAsync(plaintext, cancellationToken);

    public async ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default)
    {
        await BeforeOutage();
        throw new DependencyUnavailableException("key-provider:" + inner.Name, "The key provider is sealed (503).");
    }

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) => inner.RotateAsync(cancellationToken);

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => inner.CheckHealthAsync(cancellationToken);
}
