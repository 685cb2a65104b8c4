using System.Diagnostics;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// Records the spans of Trousseau's <see cref="ActivitySource"/> that belong to one trace, started by
/// <see cref="StartRoot"/> under a test source of its own; the spans of other tests running at the same time are
/// left out.
/// </summary>
public sealed class TraceRecorder : IDisposable
{
    private const string TestSourceName = "Trousseau.Tests.Trace";
    private readonly ActivitySource _testSource = new(TestSourceName);
    private readonly List<Activity> _stopped = [];
    private readonly ActivityListener _listener;
    private ActivityTraceId? _traceId;

    public TraceRecorder()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name is TrousseauDiagnostics.ActivitySourceName or TestSourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                lock (_stopped)
                {
                    _stopped.Add(activity);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>Starts the root span of the recorded trace; what runs until it is disposed belongs to the trace.</summary>
    public Activity StartRoot()
    {
        var root = _testSource.StartActivity("test") ?? throw new InvalidOperationException("The test source has no listener.");
        _traceId = root.TraceId;
        return root;
    }

    /// <summary>Trousseau's spans of the trace begun by <see cref="StartRoot"/>, in the order they stopped.</summary>
    public IReadOnlyList<Activity> Spans
    {
        get
        {
            lock (_stopped)
            {
                return _stopped.Where(a => a.TraceId == _traceId && a.Source.Name == TrousseauDiagnostics.ActivitySourceName).ToList();
            }
        }
    }

    public void Dispose()
    {
        _listener.Dispose();
        _testSource.Dispose();
    }
}
