using System.Globalization;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>
/// One secret's history as its only writer knows it: every value it tried to write (each value is the name and a
/// sequence number, increasing with each attempt), the last one trousseaud acknowledged and that write's revision.
/// A value read back is right when it is the acknowledged one or one tried after it (an attempt whose answer was lost
/// may have landed), and its revision is not lower than the acknowledged one.
/// </summary>
internal sealed class SoakLedgerEntry(string name)
{
    private readonly Lock _lock = new();
    private readonly HashSet<long> _attempted = [];
    private long _acknowledgedSequence = -1;
    private long _acknowledgedRevision;

    public string Name { get; } = name;

    /// <summary>The writer's own state: the revision it sends in <c>If-Match</c>, or null while it knows of no stored secret.</summary>
    public long? Revision { get; set; }

    /// <summary>The writer's own state: an answer was lost or refused, so it reads the secret before writing again.</summary>
    public bool NeedsResync { get; set; }

    /// <summary>The last acknowledged (or read back) write: its sequence number (-1 for none) and revision.</summary>
    public (long Sequence, long Revision) Acknowledged
    {
        get
        {
            lock (_lock)
            {
                return (_acknowledgedSequence, _acknowledgedRevision);
            }
        }
    }

    /// <summary>Records an attempt to write <paramref name="sequence"/> and returns the value to write.</summary>
    public string Attempt(long sequence)
    {
        lock (_lock)
        {
            _attempted.Add(sequence);
        }

        return $"{Name}#{sequence.ToString(CultureInfo.InvariantCulture)}";
    }

    /// <summary>Records that trousseaud acknowledged writing <paramref name="sequence"/> at <paramref name="revision"/>.</summary>
    public void Acknowledge(long sequence, long revision)
    {
        lock (_lock)
        {
            _acknowledgedSequence = Math.Max(_acknowledgedSequence, sequence);
            _acknowledgedRevision = Math.Max(_acknowledgedRevision, revision);
        }
    }

    /// <summary>
    /// Checks a value and revision read back against what was acknowledged before the read began
    /// (<paramref name="before"/>); returns what is wrong, or null. A right value also raises the acknowledged
    /// bound: a later read may not go back behind it.
    /// </summary>
    public string? CheckRead(string? value, long revision, (long Sequence, long Revision) before)
    {
        var prefix = Name + "#";
        if (value is null || !value.StartsWith(prefix, StringComparison.Ordinal)
            || !long.TryParse(value.AsSpan(prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var sequence))
        {
            return $"{Name} read back '{value}', which its writer never wrote";
        }

        lock (_lock)
        {
            if (!_attempted.Contains(sequence))
            {
                return $"{Name} read back write #{sequence}, which its writer never made";
            }

            if (sequence < before.Sequence)
            {
                return $"{Name} read back write #{sequence} after write #{before.Sequence} was acknowledged";
            }

            if (revision < before.Revision)
            {
                return $"{Name} read back revision {revision} after revision {before.Revision} was acknowledged";
            }

            _acknowledgedSequence = Math.Max(_acknowledgedSequence, sequence);
            _acknowledgedRevision = Math.Max(_acknowledgedRevision, revision);
            return null;
        }
    }
}
