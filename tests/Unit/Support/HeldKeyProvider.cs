namespace Trousseau.Tests.Unit.Support;

/// <summary>
/// Passes calls to a real key provider, and can hold the answer of its next wrap or unwrap: the call is made at once
/// (a wrap under the key the provider uses then, as Vault Transit chooses the version when the request arrives), but
/// its answer reaches the caller only when the test lets it go, so that a rotation, a rewrap or the host's stop can
/// happen while a write makes its data key or a read waits for one.
/// </summary>
internal sealed class HeldKeyProvider(IKeyProvider inner) : IKeyProvider
{
    private readonly HeldAnswer _wrap = new();
    private readonly HeldAnswer _unwrap = new();

    public string Name => inner.Name;

    /// <summary>Holds the answer of the next wrap; the task completes once that wrap has been made, its answer held.</summary>
    public Task HoldNextWrap() => _wrap.HoldNext();

    /// <summary>Lets the held wrap answer its caller.</summary>
    public void ReleaseWrap() => _wrap.Release();

    /// <summary>Holds the answer of the next unwrap; the task completes once that unwrap has been made, its answer held.</summary>
    public Task HoldNextUnwrap() => _unwrap.HoldNext();

    /// <summary>Lets the held unwrap answer its caller.</summary>
    public void ReleaseUnwrap() => _unwrap.Release();

    public ValueTask<KeyInfo> GetCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.GetCurrentKeyAsync(cancellationToken);

    public ValueTask<KeyInfo> RefreshCurrentKeyAsync(CancellationToken cancellationToken = default) => inner.RefreshCurrentKeyAsync(cancellationToken);

    public async ValueTask<WrappedKey> WrapAsync(ReadOnlyMemory<byte> plaintext, CancellationToken cancellationToken = default)
    {
        var wrapped = await inner.WrapAsync(plaintext, cancellationToken);
        await _wrap.WaitIfHeldAsync(cancellationToken);
        return wrapped;
    }

    public async ValueTask<byte[]> UnwrapAsync(WrappedKey wrapped, CancellationToken cancellationToken = default)
    {
        var unwrapped = await inner.UnwrapAsync(wrapped, cancellationToken);
        await _unwrap.WaitIfHeldAsync(cancellationToken);
        return unwrapped;
    }

    public ValueTask<KeyInfo> RotateAsync(CancellationToken cancellationToken = default) => inner.RotateAsync(cancellationToken);

    public ValueTask<DependencyHealth> CheckHealthAsync(CancellationToken cancellationToken = default) => inner.CheckHealthAsync(cancellationToken);

    /// <summary>The answer of one kind of call, held for the next such call once asked.</summary>
    private sealed class HeldAnswer
    {
        private TaskCompletionSource? _release;
        private TaskCompletionSource? _made;

        public Task HoldNext()
        {
            _made = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Volatile.Write(ref _release, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
            return _made.Task;
        }

        public void Release() => _release?.TrySetResult();

        /// <summary>The first call made once held waits here until released; any other goes on.</summary>
        public async Task WaitIfHeldAsync(CancellationToken cancellationToken)
        {
            var release = Volatile.Read(ref _release);
            if (release is not null && !release.Task.IsCompleted && _made!.TrySetResult())
            {
                await release.Task.WaitAsync(cancellationToken);
            }
        }
    }
}
