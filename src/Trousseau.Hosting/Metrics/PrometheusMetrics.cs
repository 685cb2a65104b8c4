using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Trousseau.Hosting.Metrics;

/// <summary>
/// Collects the <c>Trousseau</c> meter's instruments with a <see cref="MeterListener"/> and renders them in the
/// Prometheus text format (the Prometheus exporter package is not available here). Counters become
/// <c>_total</c> series, histograms get cumulative buckets, gauges are observed at each scrape.
/// </summary>
internal sealed class PrometheusMetrics : IDisposable
{
    private static readonly double[] Buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<Instrument, Series> _series = new();
    private readonly Lock _scrape = new();

    public PrometheusMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == TrousseauDiagnostics.MeterName)
            {
                _series.TryAdd(instrument, new Series(instrument));
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
    }

    public string Render()
    {
        var text = new StringBuilder();
        lock (_scrape)
        {
            _listener.RecordObservableInstruments();
            foreach (var series in _series.Values.OrderBy(s => s.Instrument.Name, StringComparer.Ordinal))
            {
                series.Render(text);
            }
        }

        return text.ToString();
    }

    public void Dispose() => _listener.Dispose();

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (_series.TryGetValue(instrument, out var series))
        {
            series.Record(value, Labels(tags));
        }
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
        {
            return "";
        }

        var pairs = new List<string>(tags.Length);
        foreach (var (key, value) in tags)
        {
            pairs.Add($"{Sanitize(key)}=\"{Escape(Convert.ToString(value, CultureInfo.InvariantCulture) ?? "")}\"");
        }

        pairs.Sort(StringComparer.Ordinal);
        return string.Join(',', pairs);
    }

    private static string Sanitize(string name) => string.Concat(name.Select(c => char.IsAsciiLetterOrDigit(c) ? c : '_'));

    private static string Escape(string value) => value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    /// <summary>One instrument's values, by label set.</summary>
    private sealed class Series(Instrument instrument)
    {
        private readonly ConcurrentDictionary<string, Point> _points = new(StringComparer.Ordinal);

        public Instrument Instrument => instrument;

        private bool IsHistogram => instrument.GetType().Name.StartsWith("Histogram", StringComparison.Ordinal);

        private bool IsCounter => instrument.GetType().Name.Contains("Counter", StringComparison.Ordinal);

        public void Record(double value, string labels)
        {
            var point = _points.GetOrAdd(labels, _ => new Point(IsHistogram ? new long[Buckets.Length] : null));
            lock (point)
            {
                if (IsHistogram)
                {
                    point.Count++;
                    point.Sum += value;
                    for (var i = 0; i < Buckets.Length; i++)
                    {
                        if (value <= Buckets[i])
                        {
                            point.BucketCounts![i]++;
                        }
                    }
                }
                else if (IsCounter)
                {
                    point.Sum += value;
                }
                else
                {
                    point.Sum = value;
                }
            }
        }

        public void Render(StringBuilder text)
        {
            if (_points.IsEmpty)
            {
                return;
            }

            var name = Sanitize(instrument.Name) + (instrument.Unit == "s" && !instrument.Name.EndsWith("seconds", StringComparison.Ordinal) ? "_seconds" : "");
            var kind = IsHistogram ? "histogram" : IsCounter ? "counter" : "gauge";
            if (IsCounter)
            {
                name += "_total";
            }

            text.Append("# HELP ").Append(name).Append(' ').Append(instrument.Description ?? instrument.Name).Append('\n');
            text.Append("# TYPE ").Append(name).Append(' ').Append(kind).Append('\n');
            foreach (var (labels, point) in _points.OrderBy(p => p.Key, StringComparer.Ordinal))
            {
                lock (point)
                {
                    if (IsHistogram)
                    {
                        for (var i = 0; i < Buckets.Length; i++)
                        {
                            Line(text, name + "_bucket", Join(labels, $"le=\"{Buckets[i].ToString(CultureInfo.InvariantCulture)}\""), point.BucketCounts![i]);
                        }

                        Line(text, name + "_bucket", Join(labels, "le=\"+Inf\""), point.Count);
                        Line(text, name + "_sum", labels, point.Sum);
                        Line(text, name + "_count", labels, point.Count);
                    }
                    else
                    {
                        Line(text, name, labels, point.Sum);
                    }
                }
            }
        }

        private static string Join(string labels, string extra) => labels.Length == 0 ? extra : labels + "," + extra;

        private static void Line(StringBuilder text, string name, string labels, double value) =>
            text.Append(name).Append(labels.Length == 0 ? "" : "{" + labels + "}").Append(' ').Append(value.ToString("R", CultureInfo.InvariantCulture)).Append('\n');
    }

    private sealed class Point(long[]? bucketCounts)
    {
        public long[]? BucketCounts { get; } = bucketCounts;

        public long Count { get; set; }

        public double Sum { get; set; }
    }
}
