namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// A key provider with one known data key, for test vectors: it unwraps exactly one wrapped value and refuses
/// every other, as a real provider refuses bytes it never wrapped.
/// </summary>
internal sealed class FixedKeyProvider(string name, KeyInfo key, byte[] wrapped, byte[] dataKey) : IKeyProvider
{
    public string Name => name;

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => ValueTask.FromResult(key);

    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The fixed provider only unwraps its one known key.");

    public ValueTask<byte[]> UnwrapAsync(WrappedKey wrappedKey, CancellationToken cancellationToken = default)
    {
        if (wrappedKey.KeyId != key.KeyId || wrappedKey.KeyVersion != key.Version || !wrappedKey.Ciphertext.Span.SequenceEqual(wrapped))
        {
            throw new InvalidCiphertextException("The fixed provider did not wrap these bytes.");
        }

        return ValueTask.FromResult(dataKey.ToArray());
    }

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) =>
        throw new NotSupportedException("The fixed provider has one key.");

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(DependencyHealth.Healthy("fixed"));
}
