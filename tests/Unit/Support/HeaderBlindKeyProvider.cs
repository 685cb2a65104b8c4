namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// A key provider with one data key that it hands out for whatever it is asked to unwrap: it ignores the key id, the
/// version and the wrapped bytes of an envelope's header, so a damaged header reaches the encryptor's own checks
/// (its parsing and AES-GCM over the header) instead of being refused here. Wrapping a data key makes it the one key.
/// </summary>
internal sealed class HeaderBlindKeyProvider(string name, KeyInfo key, byte[] dataKey) : IKeyProvider
{
    private static readonly byte[] WrappedBytes = "WRAPPED-DEK-BLIND"u8.ToArray();

    private byte[] _dataKey = dataKey.ToArray();

    public string Name => name;

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(key);

    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default)
    {
        Volatile.Write(ref _dataKey, plaintext.ToArray());
        return ValueTask.FromResult(new WrappedKey(key.KeyId, key.Version, WrappedBytes.ToArray()));
    }

    public ValueTask<byte[]> UnwrapAsync(WrappedKey wrappedKey, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Volatile.Read(ref _dataKey).ToArray());

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The header-blind provider has one key.");

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(DependencyHealth.Healthy("header-blind"));
}
