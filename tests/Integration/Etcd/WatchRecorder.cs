using System.Threading.Channels;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// Reads a store's watch in the background into a queue. Every wait has a deadline and fails with what it waited
/// for; a watch that fails instead of ending when asked fails the test with its exception.
/// </summary>
internal sealed class WatchRecorder : IAsyncDisposable
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(30);

    private readonly CancellationTokenSource _stop = new();
    private readonly Channel<StoreChange> _seen = Channel.CreateUnbounded<StoreChange>();
    private readonly Task _watching;
    private readonly Func<StoreChange, bool> _isProbe;

    /// <summary>Starts watching <paramref name="prefix"/>; changes <paramref name="isProbe"/> accepts are never returned by <see cref="NextAsync"/>.</summary>
    public WatchRecorder(IWatchableSecretStore store, string prefix, Func<StoreChange, bool> isProbe)
    {
        _isProbe = isProbe;
        _watching = Task.Run(async () =>
        {
            await foreach (var change in store.WatchAsync(prefix, _stop.Token))
            {
                await _seen.Writer.WriteAsync(change);
            }
        });
    }

    /// <summary>
    /// A watch starts at the revision current when it opens, so nothing says when it is open but a change it reports:
    /// writes probes (<paramref name="writeProbe"/> with 0, 1, 2...) until the watch reports one.
    /// </summary>
    public async Task WaitUntilOpenAsync(Func<int, Task> writeProbe)
    {
        var deadline = DateTime.UtcNow + Deadline;
        for (var probe = 0; ; probe++)
        {
            await writeProbe(probe);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await _seen.Reader.WaitToReadAsync(wait.Token);
                return;
            }
            catch (OperationCanceledException) when (wait.IsCancellationRequested)
            {
                await ThrowIfWatchFailedAsync();
                Assert.True(DateTime.UtcNow < deadline, $"the watch reported none of {probe + 1} probes written over {Deadline.TotalSeconds} s");
            }
        }
    }

    /// <summary>The next change that is not a probe.</summary>
    public async Task<StoreChange> NextAsync(string waitingFor)
    {
        using var timeout = new CancellationTokenSource(Deadline);
        while (true)
        {
            StoreChange change;
            try
            {
                change = await _seen.Reader.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                await ThrowIfWatchFailedAsync();
                throw new Xunit.Sdk.XunitException($"the watch reported no {waitingFor} within {Deadline.TotalSeconds} s");
            }

            if (!_isProbe(change))
            {
                return change;
            }
        }
    }

    /// <summary>Stops the watch and checks that it ended because it was asked to, not by a fault.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        var ended = await Record.ExceptionAsync(() => _watching);
        Assert.True(ended is null or OperationCanceledException, $"the watch failed instead of ending when asked: {ended}");
    }

    /// <summary>Waits for the watch to end by itself and returns the exception it ended with; fails the test if it does not end, or ends without one.</summary>
    public async Task<Exception> FaultAsync()
    {
        var ended = await Task.WhenAny(_watching, Task.Delay(Deadline));
        Assert.True(ended == _watching, $"the watch neither ended nor failed within {Deadline.TotalSeconds} s");
        return await Record.ExceptionAsync(() => _watching) ?? throw new Xunit.Sdk.XunitException("the watch ended without an error");
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _watching.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private async Task ThrowIfWatchFailedAsync()
    {
        if (_watching.IsCompleted)
        {
            await _watching;
            throw new Xunit.Sdk.XunitException("the watch ended by itself");
        }
    }
}
