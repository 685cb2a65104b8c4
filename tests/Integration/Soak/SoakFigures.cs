using System.Collections.Concurrent;

namespace Trousseau.Tests.Integration.Soak;

/// <summary>What the load saw: counts of each outcome, and the first few examples of each problem.</summary>
internal sealed class SoakFigures
{
    public static readonly TimeSpan KubeApiServerDeadline = TimeSpan.FromSeconds(3);

    private const int KeptExamples = 20;

    private readonly ConcurrentDictionary<string, long> _kmsCodes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (long Count, string Example)> _unexpected = new(StringComparer.Ordinal);
    private readonly Problems _lost = new();
    private readonly Problems _undecryptable = new();
    private long _creates;
    private long _updates;
    private long _writeFailures;
    private long _conflicts;
    private long _reads;
    private long _readFailures;
    private long _kmsSlow;
    private long _slowestKmsTicks;

    public long Creates => Interlocked.Read(ref _creates);

    public long Updates => Interlocked.Read(ref _updates);

    /// <summary>Writes refused as unavailable, or left without an answer (trousseaud killed, timed out).</summary>
    public long WriteFailures => Interlocked.Read(ref _writeFailures);

    /// <summary>Updates answered 412: a rewrap gave the secret a new revision, or an unanswered write had landed.</summary>
    public long Conflicts => Interlocked.Read(ref _conflicts);

    /// <summary>Reads whose value and revision were checked against the acknowledged writes.</summary>
    public long Reads => Interlocked.Read(ref _reads);

    public long ReadFailures => Interlocked.Read(ref _readFailures);

    /// <summary>KMS answers by gRPC status code name.</summary>
    public IReadOnlyDictionary<string, long> KmsCodes => _kmsCodes;

    public long KmsCalls => _kmsCodes.Values.Sum();

    /// <summary>KMS answers (of any code) that took longer than kube-apiserver's 3 s deadline.</summary>
    public long KmsSlow => Interlocked.Read(ref _kmsSlow);

    public TimeSpan SlowestKmsAnswer => TimeSpan.FromTicks(Interlocked.Read(ref _slowestKmsTicks));

    /// <summary>
    /// Secrets with an acknowledged write that could not be read back, or was read back older than acknowledged
    /// (each secret counted once), and the first few problems.
    /// </summary>
    public Problems Lost => _lost;

    /// <summary>Secrets and KMS ciphertexts that did not decrypt, or decrypted to something else (each counted once).</summary>
    public Problems Undecryptable => _undecryptable;

    /// <summary>Answers no fault explains (a 500, an unknown gRPC code...), by kind, with how many and one example.</summary>
    public IReadOnlyDictionary<string, (long Count, string Example)> UnexpectedAnswers => _unexpected;

    public void Created() => Interlocked.Increment(ref _creates);

    public void Updated() => Interlocked.Increment(ref _updates);

    public void WriteFailed() => Interlocked.Increment(ref _writeFailures);

    public void Conflicted() => Interlocked.Increment(ref _conflicts);

    public void Read() => Interlocked.Increment(ref _reads);

    public void ReadFailed() => Interlocked.Increment(ref _readFailures);


    public void UnexpectedAnswer(string kind, string example) =>
        _unexpected.AddOrUpdate(kind, (1, example), (_, seen) => (seen.Count + 1, seen.Example));

    /// <summary>Counts one KMS answer with its gRPC code and how long the call took.</summary>
    public void KmsAnswered(string code, TimeSpan elapsed)
    {
        _kmsCodes.AddOrUpdate(code, 1, (_, n) => n + 1);
        if (elapsed > KubeApiServerDeadline)
        {
            Interlocked.Increment(ref _kmsSlow);
        }

        var slowest = Interlocked.Read(ref _slowestKmsTicks);
        while (elapsed.Ticks > slowest && Interlocked.CompareExchange(ref _slowestKmsTicks, elapsed.Ticks, slowest) != slowest)
        {
            slowest = Interlocked.Read(ref _slowestKmsTicks);
        }
    }

    /// <summary>Problems with distinct items (a secret's name, a KMS ciphertext): how many items, the first few problems.</summary>
    internal sealed class Problems
    {
        private readonly HashSet<string> _items = new(StringComparer.Ordinal);
        private readonly List<string> _examples = [];

        public int Count
        {
            get
            {
                lock (_items)
                {
                    return _items.Count;
                }
            }
        }

        public IReadOnlyList<string> Examples
        {
            get
            {
                lock (_items)
                {
                    return [.. _examples];
                }
            }
        }

        public void Add(string item, string problem)
        {
            lock (_items)
            {
                _items.Add(item);
                if (_examples.Count < KeptExamples)
                {
                    _examples.Add(problem);
                }
            }
        }
    }
}
