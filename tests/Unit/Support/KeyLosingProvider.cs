namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// Passes calls to a real key provider until <see cref="LoseKey"/>, as a Vault Transit key deleted in Vault: from then
/// on every wrap and unwrap is refused naming the key, and each <see cref="IKeyLossNotifier"/> registration is told.
/// </summary>
internal sealed class KeyLosingProvider(IKeyProvider inner) : IKeyProvider, IKeyLossNotifier
{
    private readonly Lock _lock = new();
    private readonly List<Action> _registrations = [];
    private volatile bool _lost;

    public string Name => inner.Name;

    /// <summary>Removes the key and tells every registration, as the provider does when it finds its key gone.</summary>
    public void LoseKey()
    {
        _lost = true;
        Action[] registered;
        lock (_lock)
        {
            registered = [.. _registrations];
        }

        foreach (var onKeyLost in registered)
        {
            onKeyLost();
        }
    }

    public IDisposable OnKeyLost(Action onKeyLost)
    {
        lock (_lock)
        {
            _registrations.Add(onKeyLost);
        }

        return new Registration(this, onKeyLost);
    }

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) =>
        _lost ? throw Gone() : inner.GetCurrentKeyAsync(cancellationToken);

    public ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default) =>
        _lost ? throw Gone() : inner.RefreshCurrentKeyAsync(cancellationToken);

    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default) =>
        _lost ? throw Gone() : inner.WrapAsync(plaintext, cancellationToken);

    public ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default) =>
        _lost ? throw Gone() : inner.UnwrapAsync(wrapped, cancellationToken);

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) => inner.RotateAsync(cancellationToken);

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => inner.CheckHealthAsync(cancellationToken);

    private DependencyUnavailableException Gone() => new("key-provider:" + inner.Name, "The key provider's key was deleted.");

    private sealed class Registration(KeyLosingProvider provider, Action onKeyLost) : IDisposable
    {
        public void Dispose()
        {
            lock (provider._lock)
            {
                provider._registrations.Remove(onKeyLost);
            }
        }
    }
}
