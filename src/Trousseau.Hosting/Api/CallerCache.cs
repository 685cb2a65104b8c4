namespace Trousseau.Hosting.Api;

/// <summary>
/// The answers of recent caller checks, by the SHA-256 of the credential (never the credential itself): at most
/// <c>capacity</c> of them, each until it expires; when full, the one used least recently makes room. Not
/// thread-safe: <see cref="CallerCheck"/> holds its lock around every call.
/// </summary>
internal sealed class CallerCache(int capacity)
{
    private readonly Dictionary<string, LinkedListNode<Entry>> _entries = new(StringComparer.Ordinal);
    private readonly LinkedList<Entry> _recency = new();

    public int Count => _entries.Count;

    /// <summary>The answer stored for <paramref name="key"/> unless it expired by <paramref name="now"/>; a hit counts as a use.</summary>
    public bool TryGet(string key, DateTimeOffset now, out CallerCheckResult result)
    {
        result = default;
        if (!_entries.TryGetValue(key, out var node))
        {
            return false;
        }

        if (node.Value.Until <= now)
        {
            Remove(node);
            return false;
        }

        _recency.Remove(node);
        _recency.AddFirst(node);
        result = node.Value.Result;
        return true;
    }

    public void Set(string key, CallerCheckResult result, DateTimeOffset until)
    {
        if (_entries.TryGetValue(key, out var existing))
        {
            Remove(existing);
        }

        _entries[key] = _recency.AddFirst(new Entry(key, result, until));
        while (_entries.Count > capacity)
        {
            Remove(_recency.Last!);
        }
    }

    private void Remove(LinkedListNode<Entry> node)
    {
        _recency.Remove(node);
        _entries.Remove(node.Value.Key);
    }

    private sealed record Entry(string Key, CallerCheckResult Result, DateTimeOffset Until);
}
