using System.Globalization;
using Etcdserverpb;

namespace Trousseau.Etcd.Internal;

/// <summary>
/// What etcd's answers said of the cluster since trousseaud connected: the cluster id first answered with, and the
/// highest revision that cluster answered with. A different cluster id (etcd rebuilt as a new cluster), or a revision
/// lower than one already answered before the call was sent (etcd started again without its data, or restored from an
/// older snapshot, with the same cluster id), makes <see cref="Change"/> describe it, which the store's health check
/// reports (and the host logs once). Calls are not
/// refused: a snapshot restored on purpose looks the same.
/// </summary>
/// <remarks>
/// Each call compares with the highest revision known when it was sent (<see cref="Reached"/>): etcd's reads and
/// transactions are linearizable, so an answer is never behind a revision answered before the call began, while
/// answers to concurrent calls may arrive in any order. Watch responses count too (<see cref="ObserveWatch"/>), so a
/// process that mostly watches, whose own calls never reach the revisions its watch sees, still finds etcd behind
/// them.
/// </remarks>
internal sealed class EtcdHistory
{
    private readonly Lock _lock = new();
    private ulong _firstCluster;
    private ulong _otherCluster;
    private long _reached;
    private (long Reached, long Now)? _wentBack;

    /// <summary>The highest revision etcd answered with so far; read before a call is sent.</summary>
    public long Reached => Volatile.Read(ref _reached);

    /// <summary>What changed in etcd since trousseaud connected, or <see langword="null"/> when nothing did.</summary>
    public string? Change
    {
        get
        {
            lock (_lock)
            {
                if (_otherCluster != 0)
                {
                    return $"the etcd cluster changed since trousseaud connected (etcd cluster {Id(_firstCluster)} when trousseaud connected, now {Id(_otherCluster)}): "
                        + "secrets written before are not in it unless it was restored from a snapshot";
                }

                return _wentBack is var (reached, now)
                    ? $"etcd went back from revision {reached} to revision {now} since trousseaud connected (it started again without its data or was restored from an older snapshot): "
                        + "secrets written before are not in it unless it was restored from a snapshot that holds them"
                    : null;
            }
        }
    }

    /// <summary>Takes in the header of an answer to a call sent when <see cref="Reached"/> was <paramref name="reachedBefore"/>.</summary>
    public void Observe(ResponseHeader? header, long reachedBefore)
    {
        if (header is not { ClusterId: not 0 })
        {
            return;
        }

        lock (_lock)
        {
            if (_firstCluster == 0)
            {
                _firstCluster = header.ClusterId;
            }

            if (header.ClusterId != _firstCluster)
            {
                _otherCluster = header.ClusterId;
                return;
            }

            _otherCluster = 0;
            if (header.Revision > 0 && header.Revision < reachedBefore && _wentBack is null)
            {
                _wentBack = (reachedBefore, header.Revision);
            }

            if (header.Revision > _reached)
            {
                Volatile.Write(ref _reached, header.Revision);
            }
        }
    }

    /// <summary>
    /// Takes in the header of a watch response: its cluster id is judged as any answer's, and its revision raises
    /// <see cref="Reached"/> (a revision a member has applied is committed, so a linearizable answer sent after it is
    /// never lower). Its revision is not judged: a watch is served by its member alone, which may lag behind the
    /// cluster, so a watch that finds its member behind asks with a linearizable read, whose answer is judged.
    /// </summary>
    public void ObserveWatch(ResponseHeader? header) => Observe(header, reachedBefore: 0);

    /// <summary>A cluster id as etcd writes it: hexadecimal.</summary>
    private static string Id(ulong id) => id.ToString("x", CultureInfo.InvariantCulture);
}
