namespace Trousseau;

/// <summary>
/// A key provider whose key can be removed where it lives while Trousseau runs (a Vault Transit key deleted in Vault).
/// When the provider finds its key gone, it tells those who registered here: the data keys that key wrapped then stop
/// sealing new writes and leave every cache at once, rather than seal writes that no restart could read again.
/// </summary>
public interface IKeyLossNotifier
{
    /// <summary>
    /// Calls <paramref name="onKeyLost"/> each time the provider finds its key gone after it was there, until the
    /// returned registration is disposed. The callback runs on the thread that found the loss and must not block.
    /// </summary>
    /// <param name="onKeyLost">What to do when the key is found gone.</param>
    /// <returns>The registration; disposing it stops the calls.</returns>
    IDisposable OnKeyLost(Action onKeyLost);
}
