namespace Trousseau.Internal;

/// <summary>
/// One call under way that concurrent callers share rather than each make their own: it runs once, on the thread pool
/// and apart from any caller's cancellation, and every caller that joined it waits for its outcome, its failure too,
/// honouring its own cancellation. The last caller to give up on it before it ends cancels it, so that nothing waits
/// on a dependency that no caller waits for any more.
/// </summary>
/// <remarks>
/// The owner keeps the call in a table (one per purpose, per key, ...) guarded by a lock that the call shares: callers
/// find or start it and <see cref="Join"/> it under that lock, and the call takes the same lock to have the owner
/// forget it once it has ended or been given up on, after which the next caller starts another.
/// </remarks>
/// <typeparam name="TResult">What the call produces.</typeparam>
internal sealed class SharedCall<TResult>
{
    private readonly Lock _gate;
    private readonly Action<SharedCall<TResult>> _forget;
    private readonly Action<TResult>? _letGo;

    // Guarded by _gate.
    private int _waiters;
    private bool _letGone;

    /// <summary>Starts <paramref name="call"/>.</summary>
    /// <param name="gate">The lock of the owner's table, which guards the waiters.</param>
    /// <param name="call">The call, given the token that ends it once no caller waits for it any more.</param>
    /// <param name="forget">Takes the call out of the owner's table, unless another took its place there; run under <paramref name="gate"/>.</param>
    /// <param name="letGo">
    /// Gives back what a successful outcome holds for its waiters (a reference on a data key) once the call has ended and
    /// no caller waits for it any more; run once, under <paramref name="gate"/>. A caller takes its own share of the
    /// outcome before it <see cref="Leave"/>s.
    /// </param>
    public SharedCall(Lock gate, Func<CancellationToken, Task<TResult>> call, Action<SharedCall<TResult>> forget, Action<TResult>? letGo = null)
    {
        _gate = gate;
        _forget = forget;
        _letGo = letGo;
        var token = Cancellation.Token;
        Outcome = Task.Run(() => call(token), CancellationToken.None);
        _ = Outcome.ContinueWith(static (_, state) => ((SharedCall<TResult>)state!).Ended(), this, CancellationToken.None, TaskContinuationOptions.None, TaskScheduler.Default);
    }

    /// <summary>The call's outcome.</summary>
    public Task<TResult> Outcome { get; }

    // Not disposed: it has no timer, and the call may still observe it after the last waiter left.
    private CancellationTokenSource Cancellation { get; } = new();

    /// <summary>Whether a caller may still join the call (under the gate): it has neither ended nor been given up on.</summary>
    public bool IsUnderWay => !Outcome.IsCompleted && !Cancellation.IsCancellationRequested;

    /// <summary>A caller joins the call, under the gate; it then waits with <see cref="WaitAsync"/>.</summary>
    public void Join() => _waiters++;

    /// <summary>
    /// Waits for the outcome as a caller that joined. A caller whose <paramref name="cancellationToken"/> ends the wait
    /// leaves the call, and the last to leave a call still under way cancels it; a caller given the outcome
    /// <see cref="Leave"/>s once it has taken its share of it.
    /// </summary>
    public async Task<TResult> WaitAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await Outcome.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Leave();
            throw;
        }
    }

    /// <summary>
    /// A caller that joined leaves: the last to leave cancels a call still under way (the owner forgets it), or lets go
    /// of an ended call's outcome.
    /// </summary>
    public void Leave()
    {
        lock (_gate)
        {
            if (--_waiters != 0)
            {
                return;
            }

            if (!Outcome.IsCompleted)
            {
                Cancellation.Cancel();
                _forget(this);
            }
            else
            {
                LetGo();
            }
        }
    }

    /// <summary>The call has ended: the owner forgets it, its failure is observed, and its outcome let go when no caller waits.</summary>
    private void Ended()
    {
        _ = Outcome.Exception;
        lock (_gate)
        {
            _forget(this);
            if (_waiters == 0)
            {
                LetGo();
            }
        }
    }

    private void LetGo()
    {
        if (_letGo is not null && !_letGone && Outcome.IsCompletedSuccessfully)
        {
            _letGone = true;
            _letGo(Outcome.Result);
        }
    }
}
