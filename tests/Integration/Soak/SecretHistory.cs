using System.Globalization;
using System.Net;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>How one write (a create, an update or a delete) or one read of a secret ended, as its client saw it.</summary>
internal enum HistoryOutcome
{
    /// <summary>Answered 2xx: it took effect.</summary>
    Acknowledged,

    /// <summary>A read answered 200 or 404: the secret held that value, or none.</summary>
    Observed,

    /// <summary>Refused with an error that says the write may or may not have been applied.</summary>
    Ambiguous,

    /// <summary>Refused with an error that does not say so: the write did not take effect.</summary>
    Refused,

    /// <summary>Sent and not answered yet: a read made meanwhile by another client may find it.</summary>
    Sending,
}

/// <summary>
/// One secret as the one client that writes it knows it: what it believes the secret holds (to send <c>If-Match</c>),
/// and every write and read in order with how each ended. The secret may hold the value of its last acknowledged write
/// or read (none after a delete), or the value of a write that failed ambiguously since the last acknowledged write;
/// anything else is a write lost, a delete undone, or a refused write applied all the same.
/// </summary>
internal sealed class SecretHistory(string name)
{
    private readonly Lock _lock = new();
    private readonly List<(HistoryOutcome Outcome, string? Value, string Answer)> _events = [];

    public string Name { get; } = name;

    /// <summary>The client's belief: whether it knows what the secret holds (false after a surprise or an ambiguous answer).</summary>
    public bool Known { get; set; } = true;

    /// <summary>The client's belief: the current revision, or null when the secret does not exist.</summary>
    public long? Revision { get; set; }

    /// <summary>The revision before <see cref="Revision"/>, which an <c>If-Match</c> must no longer match.</summary>
    public long? Superseded { get; set; }

    public string Value(long sequence) => Name + "#" + sequence.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Whether a failed write's answer says it may have taken effect, as docs/reference.md says of such answers: none
    /// came, the audit trail could not record it once done, or the detail says it may or may not have been applied
    /// (or made). Any other refusal says the write did not take effect.
    /// </summary>
    public static bool MayHaveApplied(HttpStatusCode? status, string? problemType, string detail) =>
        status is null
        || problemType == "urn:trousseau:problem:audit-unavailable"
        || detail.Contains("may or may not have been", StringComparison.Ordinal);

    /// <summary>
    /// Where the history stands now: a read begun here, by a client other than the writer, is checked with
    /// <see cref="Check(string?, int)"/> against this mark.
    /// </summary>
    public int Mark()
    {
        lock (_lock)
        {
            return _events.Count;
        }
    }

    /// <summary>Records a write of <paramref name="value"/> (null: a delete), or a read that found it, and how it ended.</summary>
    public void Record(HistoryOutcome outcome, string? value, string answer)
    {
        lock (_lock)
        {
            _events.Add((outcome, value, answer));
        }
    }

    /// <summary>Whether a write failed ambiguously since the last acknowledged write, so that the secret may have moved.</summary>
    public bool MayHaveMoved()
    {
        lock (_lock)
        {
            return MayStillLand(_events.Count).Any();
        }
    }

    /// <summary>What is wrong with finding <paramref name="found"/> (null: no secret) now, or null when it may hold that.</summary>
    public string? Check(string? found) => Check(found, int.MaxValue);

    /// <summary>
    /// What is wrong with finding <paramref name="found"/> by a read begun at <paramref name="since"/> (a
    /// <see cref="Mark"/>) while the writer went on, or null when the secret may have held that: what it may have held
    /// at the mark, or a write recorded since (sent, acknowledged or failed ambiguously) that was not refused outright.
    /// </summary>
    public string? Check(string? found, int since)
    {
        lock (_lock)
        {
            var before = Math.Min(since, _events.Count);
            var last = LastCertain(before);
            var allowed = new List<string?> { last < 0 ? null : _events[last].Value };
            allowed.AddRange(MayStillLand(before).Select(e => e.Value));
            allowed.AddRange(_events.Skip(before)
                .Where(e => e.Outcome != HistoryOutcome.Refused && !IsRefused(e.Value))
                .Select(e => e.Value));
            if (allowed.Contains(found))
            {
                return null;
            }

            var expected = last < 0 ? "no secret (nothing acknowledged yet)" : Describe(_events[last].Value) + $" ({_events[last].Outcome})";
            var refused = _events.LastOrDefault(e => e.Outcome == HistoryOutcome.Refused && e.Value == found);
            var why = refused.Answer is { } answer
                ? $"; that {(found is null ? "delete" : "write")} was answered '{answer}', which does not say it may have been applied"
                : _events.Any(e => e.Value == found) ? "; an acknowledged write or delete came after it" : "";
            return $"{Name} holds {Describe(found)}, but its last certain state is {expected}{why}";
        }
    }

    private static string Describe(string? value) => value is null ? "no secret" : $"'{value}'";

    /// <summary>
    /// The writes that failed ambiguously since the last acknowledged one, and those sent and not answered yet (not
    /// refused since): any of them may land at any time, even after a read that did not see it (etcd may apply a
    /// request it held unanswered later). An acknowledged write with <c>If-Match</c> ends that: each of them names a
    /// revision that write superseded.
    /// </summary>
    private IEnumerable<(HistoryOutcome Outcome, string? Value, string Answer)> MayStillLand(int count) =>
        _events.Take(count).Skip(LastIndex(count, e => e.Outcome == HistoryOutcome.Acknowledged) + 1)
            .Where(e => e.Outcome == HistoryOutcome.Ambiguous || (e.Outcome == HistoryOutcome.Sending && !IsRefused(e.Value)));

    /// <summary>Whether a write of <paramref name="value"/> was refused outright: it did not take effect.</summary>
    private bool IsRefused(string? value) => _events.Any(e => e.Outcome == HistoryOutcome.Refused && e.Value == value);

    private int LastCertain(int count) => LastIndex(count, e => e.Outcome is HistoryOutcome.Acknowledged or HistoryOutcome.Observed);

    /// <summary>The index of the last of the first <paramref name="count"/> events that matches, or -1.</summary>
    private int LastIndex(int count, Predicate<(HistoryOutcome Outcome, string? Value, string Answer)> match) =>
        count == 0 ? -1 : _events.FindLastIndex(count - 1, count, match);
}
