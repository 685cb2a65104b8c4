namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// Passes calls to a real key provider, and can hold the answer of its next unwrap: the unwrap is made at once, but
/// its answer reaches the caller only when the test lets it go, so that the host can stop while a read waits for it.
/// </summary>
internal sealed class HeldUnwrapKeyProvider(IKeyProvider inner) : IKeyProvider
{
    private TaskCompletionSource? _release;
    private TaskCompletionSource? _unwrapped;

    public string Name => inner.Name;

    /// <summary>Holds the answer of the next unwrap; the task completes once that unwrap has been made, its answer held.</summary>
    public Task HoldNextUnwrap()
    {
        _unwrapped = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Volatile.Write(ref _release, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        return _unwrapped.Task;
    }

    /// <summary>Lets the held unwrap answer its caller.</summary>
    public void ReleaseUnwrap() => _release?.TrySetResult();

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.GetCurrentKeyAsync(cancellationToken);

    public ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.RefreshCurrentKeyAsync(cancellationToken);

    public ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default) => inner.WrapAsync(plaintext, cancellationToken);

    public async ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default)
    {
        var unwrapped = await inner.UnwrapAsync(wrapped, cancellationToken);
        var release = Volatile.Read(ref _release);
        if (release is not null && !release.Task.IsCompleted && _unwrapped!.TrySetResult())
        {
            await release.Task.WaitAsync(cancellationToken);
        }

        return unwrapped;
    }

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) => inner.RotateAsync(cancellationToken);

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => inner.CheckHealthAsync(cancellationToken);
}
