namespace Trousseau.Tests.Unit.Support;

/// <summary>Passes calls to a real key provider and counts them.</summary>
internal sealed class CountingKeyProvider(IKeyProvider inner) : IKeyProvider
{
    private int _wraps;
    private int _unwraps;

    public int Wraps => Volatile.Read(ref _wraps);

    public int Unwraps => Volatile.Read(ref _unwraps);

    public string Name => inner.Name;

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.GetCurrentKeyAsync(cancellationToken);

    public ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.RefreshCurrentKeyAsync(cancellationToken);

    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _wraps);
        return inner.WrapAsync(plaintext, cancellationToken);
    }

    public ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _unwraps);
        return inner.UnwrapAsync(wrapped, cancellationToken);
    }

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) => inner.RotateAsync(cancellationToken);

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => inner.CheckHealthAsync(cancellationToken);
}
