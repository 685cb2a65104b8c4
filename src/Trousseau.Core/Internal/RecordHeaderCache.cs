namespace Trousseau.Internal;

/// <summary>
/// What this process last saw of the record of each of the most recently used secret names: its clear header's type
/// and creation time, the secret's revision and the store revision. At most <c>capacity</c> names; when full, the
/// one used least recently makes room. It holds no data and no ciphertext. What it holds may be stale (another
/// instance, a rewrap or a delete may have moved the record since), so it is only ever the guess of a
/// compare-and-swap, which the store refuses when the record moved.
/// </summary>
internal sealed class RecordHeaderCache(int capacity)
{
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recency = new();
    private readonly Lock _lock = new();

    /// <summary>The header remembered for <paramref name="name"/>, if any; a hit counts as a use.</summary>
    public bool TryGet(string name, out CachedHeader header)
    {
        lock (_lock)
        {
            if (!_entries.TryGetValue(name, out var node))
            {
                header = default;
                return false;
            }

            _recency.Remove(node);
            _recency.AddFirst(node);
            header = node.Value.Header;
            return true;
        }
    }

    /// <summary>
    /// Remembers <paramref name="header"/> for <paramref name="name"/>, unless what is remembered was seen at a later
    /// store revision (a slower call of this process saw an older record).
    /// </summary>
    public void Remember(string name, CachedHeader header)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(name, out var existing))
            {
                if (existing.Value.Header.StoreRevision > header.StoreRevision)
                {
                    return;
                }

                // Read again unchanged, the usual case of a read: a use, with nothing to allocate.
                if (existing.Value.Header == header)
                {
                    _recency.Remove(existing);
                    _recency.AddFirst(existing);
                    return;
                }

                Remove(existing);
            }

            _entries[name] = _recency.AddFirst(new Entry(name, header));
            while (_entries.Count > capacity)
            {
                Remove(_recency.Last!);
            }
        }
    }

    public void Forget(string name)
    {
        lock (_lock)
        {
            if (_entries.TryGetValue(name, out var node))
            {
                Remove(node);
            }
        }
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.Name);
    }

    private sealed record Entry(string Name, CachedHeader Header);
}

/// <summary>A record's header as <see cref="RecordHeaderCache"/> remembers it.</summary>
/// <param name="Type">The secret's type.</param>
/// <param name="CreatedAt">When the secret was created.</param>
/// <param name="Revision">The secret's revision (<see cref="RecordHeader.RevisionAt"/>).</param>
/// <param name="StoreRevision">The store revision the record was at.</param>
internal readonly record struct CachedHeader(SecretType Type, DateTimeOffset CreatedAt, long Revision, long StoreRevision);
