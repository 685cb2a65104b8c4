namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// A key provider whose wraps lag behind what it reports as current: <see cref="RefreshCurrentKeyAsync"/> asks
/// <paramref name="source"/>, which has seen a rotation, while every wrap and unwrap goes to <paramref name="lagging"/>,
/// which has not (as a Vault node that has not yet seen a rotation answers encrypt under the older version).
/// </summary>
internal sealed class LaggingKeyProvider(IKeyProvider lagging, IKeyProvider source) : IKeyProvider
{
    public string Name => lagging.Name;

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => source.GetCurrentKeyAsync(cancellationToken);

    public ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default) => source.RefreshCurrentKeyAsync(cancellationToken);

    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default) => lagging.WrapAsync(plaintext, cancellationToken);

    public ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default) => lagging.UnwrapAsync(wrapped, cancellationToken);

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) => source.RotateAsync(cancellationToken);

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => lagging.CheckHealthAsync(cancellationToken);
}
