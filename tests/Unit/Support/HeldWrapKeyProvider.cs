namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// Passes calls to a real key provider, and can hold the answer of its next wrap: the wrap is made at once, under the
/// key the provider uses then (as Vault Transit chooses the version when the request arrives), but reaches the caller
/// only when the test lets it go, so that a rotation or a rewrap can start while a write is making a data key.
/// </summary>
internal sealed class HeldWrapKeyProvider(IKeyProvider inner) : IKeyProvider
{
    private TaskCompletionSource? _release;
    private TaskCompletionSource? _wrapped;

    public string Name => inner.Name;

    /// <summary>Holds the answer of the next wrap; the task completes once that wrap has been made, its answer held.</summary>
    public Task HoldNextWrap()
    {
        _wrapped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _release, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        return _wrapped.Task;
    }

    /// <summary>Lets the held wrap answer its caller.</summary>
    public void ReleaseWrap() => _release?.TrySetResult();

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.GetCurrentKeyAsync(cancellationToken);

    public ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.RefreshCurrentKeyAsync(cancellationToken);

    public async ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default)
    {
        var wrapped = await inner.WrapAsync(plaintext, cancellationToken);
        var release = Volatile.Read(ref _release);
        if (release is not null && !release.Task.IsCompleted && _wrapped!.TrySetResult())
        {
            await release.Task.WaitAsync(cancellationToken);
        }

        return wrapped;
    }

    public ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default) => inner.UnwrapAsync(wrapped, cancellationToken);

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) => inner.RotateAsync(cancellationToken);

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => inner.CheckHealthAsync(cancellationToken);
}
