using System.Diagnostics;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>The kinds of operation the load makes; the service has recovered from a fault once each kind succeeds again.</summary>
internal enum SoakOperation
{
    SecretWrite,
    SecretRead,
    KmsEncrypt,
    KmsDecrypt,
}

/// <summary>
/// When each successful operation started and ended (<see cref="Stopwatch"/> timestamps), kept in the order they
/// ended. The time to recover after a fault is how long after the fault ended every kind of operation had succeeded
/// once, counting only operations that started after the fault ended.
/// </summary>
internal sealed class SoakTimeline
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private readonly List<(long Started, long Ended)>[] _successes =
        [.. Enum.GetValues<SoakOperation>().Select(_ => new List<(long, long)>())];

    private readonly List<long> _failures = [];

    /// <summary>Records that an operation of this kind, started at <paramref name="started"/>, has just succeeded.</summary>
    public void Succeeded(SoakOperation operation, long started)
    {
        var list = _successes[(int)operation];
        lock (list)
        {
            list.Add((started, Stopwatch.GetTimestamp()));
        }
    }

    /// <summary>Records that a call has just failed (refused as unavailable, or unanswered).</summary>
    public void Failed()
    {
        lock (_failures)
        {
            _failures.Add(Stopwatch.GetTimestamp());
        }
    }

    /// <summary>How many calls failed from <paramref name="from"/> to <paramref name="to"/> (timestamps).</summary>
    public int FailuresBetween(long from, long to)
    {
        lock (_failures)
        {
            return _failures.Count(at => at >= from && at <= to);
        }
    }

    /// <summary>
    /// How long after <paramref name="faultEnded"/> every kind of operation started after it had succeeded once, or
    /// null while some kind has not.
    /// </summary>
    public TimeSpan? RecoveryAfter(long faultEnded)
    {
        var recovered = faultEnded;
        foreach (var list in _successes)
        {
            long? first = null;
            lock (list)
            {
                // Kept in the order they ended, and an operation started after the fault also ended after it: walk
                // back to the fault's end, remembering the earliest end among those that started after it.
                for (var i = list.Count - 1; i >= 0 && list[i].Ended >= faultEnded; i--)
                {
                    if (list[i].Started >= faultEnded)
                    {
                        first = list[i].Ended;
                    }
                }
            }

            if (first is not { } ended)
            {
                return null;
            }

            recovered = Math.Max(recovered, ended);
        }

        return Stopwatch.GetElapsedTime(faultEnded, recovered);
    }

    /// <summary>Waits until <see cref="RecoveryAfter"/> has an answer, or <paramref name="limit"/> after the fault ended (null then).</summary>
    public async Task<TimeSpan?> WaitForRecoveryAsync(long faultEnded, TimeSpan limit)
    {
        while (true)
        {
            if (RecoveryAfter(faultEnded) is { } recovery)
            {
                return recovery;
            }

            if (Stopwatch.GetElapsedTime(faultEnded) > limit)
            {
                return null;
            }

            await Task.Delay(PollInterval);
        }
    }
}
