namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// A key provider that unwraps whatever it is handed to its one data key: it ignores the key id, the version and the
/// wrapped bytes of the envelope's header, so a damaged header reaches the encryptor's own checks (its parsing and
/// AES-GCM over the header) instead of being refused here. It counts its unwraps.
/// </summary>
internal sealed class HeaderBlindKeyProvider(string name, KeyInfo key, byte[] dataKey) : IKeyProvider
{
    private int _unwraps;

    public string Name => name;

    public int Unwraps => Volatile.Read(ref _unwraps);

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(key);

    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The header-blind provider only unwraps its one known key.");

    public ValueTask<byte[]> UnwrapAsync(WrappedKey wrappedKey, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _unwraps);
        return ValueTask.FromResult(dataKey.ToArray());
    }

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The header-blind provider has one key.");

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(DependencyHealth.Healthy("header-blind"));
}
