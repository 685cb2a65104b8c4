using System.Collections.Concurrent;

namespace Trousseau.Envelope;

/// <summary>
/// The writes of stored records under way in this process, so that a rewrap can wait for those begun before it and
/// find each record they sealed under another key than the current one: a write whose data key was being wrapped as a
/// rotation was seen can reach the store after the rewrap's listing has passed its name.
/// </summary>
/// <remarks>
/// A write costs two interlocked operations and a key id comparison, and no store round trip. Writes are counted by
/// generation: a rewrap closes the open generation, and its <see cref="Close"/> task completes once every write counted
/// in it, and in each generation closed before it, has ended.
/// </remarks>
internal sealed class StoreWriteTracker(Func<string?> currentKeyId)
{
    // The name of each record a write left under another key than the current one, with a stamp that tells a mark made
    // again after a rewrap read the record from the mark it read.
    private readonly ConcurrentDictionary<string, long> _late = new(StringComparer.Ordinal);
    private readonly Lock _closeLock = new();
    private Generation _open = new(Task.CompletedTask);
    private long _stamps;

    /// <summary>Counts a write of <paramref name="name"/>'s record, begun before its data is sealed; dispose it once the write has ended.</summary>
    public Write Begin(string name)
    {
        while (true)
        {
            var generation = Volatile.Read(ref _open);
            if (generation.TryEnter())
            {
                return new Write(this, generation, name);
            }
        }
    }

    /// <summary>Closes the writes begun so far: the task completes once each of them has ended.</summary>
    public Task Close()
    {
        Generation closed;
        lock (_closeLock)
        {
            closed = _open;
            Volatile.Write(ref _open, new Generation(closed.Ended));
        }

        closed.Exit();
        return closed.Ended;
    }

    /// <summary>The records that writes left under another key than the one current when they ended, each with its mark's stamp.</summary>
    public KeyValuePair<string, long>[] LateRecords() => _late.ToArray();

    /// <summary>Forgets a record found under the current key (or deleted), unless a write marked it again since <paramref name="late"/> was read.</summary>
    public void Settled(KeyValuePair<string, long> late) => _late.TryRemove(late);

    private void End(Generation generation, string name, string? sealedKeyId)
    {
        if (sealedKeyId is not null && currentKeyId() is { } current && sealedKeyId != current)
        {
            _late[name] = Interlocked.Increment(ref _stamps);
        }

        generation.Exit();
    }

    /// <summary>One write of a record, from before its data is sealed until the store has answered.</summary>
    public sealed class Write : IDisposable
    {
        private readonly StoreWriteTracker _tracker;
        private readonly Generation _generation;
        private readonly string _name;
        private string? _sealedKeyId;
        private int _ended;

        internal Write(StoreWriteTracker tracker, Generation generation, string name)
        {
            _tracker = tracker;
            _generation = generation;
            _name = name;
        }

        /// <summary>Notes the key that wrapped the data key the record was sealed under.</summary>
        public void Sealed(string keyId) => _sealedKeyId = keyId;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _ended, 1) == 0)
            {
                _tracker.End(_generation, _name, _sealedKeyId);
            }
        }
    }

    /// <summary>The writes begun between two closes; it holds one count of its own until it is closed.</summary>
    internal sealed class Generation
    {
        private readonly TaskCompletionSource _ended = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _count = 1;

        public Generation(Task earlier) =>
            Ended = earlier.IsCompletedSuccessfully ? _ended.Task : Task.WhenAll(earlier, _ended.Task);

        /// <summary>Completes once this generation is closed and its writes and those of every earlier one have ended.</summary>
        public Task Ended { get; }

        public bool TryEnter()
        {
            var count = Volatile.Read(ref _count);
            while (count > 0)
            {
                var seen = Interlocked.CompareExchange(ref _count, count + 1, count);
                if (seen == count)
                {
                    return true;
                }

                count = seen;
            }

            return false;
        }

        public void Exit()
        {
            if (Interlocked.Decrement(ref _count) == 0)
            {
                _ended.TrySetResult();
            }
        }
    }
}
