using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Trousseau.Tests.Unit.Support;

namespace Trousseau.Tests.Unit.Diagnostics;

/// <summary>Trousseau's spans and metrics, as an application's OpenTelemetry sees them.</summary>
public sealed class TelemetryTests : IDisposable
{
    private const string Value = "telemetry-canary-9e2b71";
    private readonly LocalTrousseau _local = new();

    public void Dispose() => _local.Dispose();

    [Fact]
    public async Task Operations_are_measured_on_the_hosts_meter_by_operation_key_provider_store_and_error_type()
    {
        var meters = _local.Services.GetRequiredService<IMeterFactory>();
        using var durations = new MetricCollector<double>(meters, TrousseauDiagnostics.MeterName, "trousseau.operation.duration");

        await _local.Trousseau.CreateSecretAsync("app/db", SecretType.Opaque, new Dictionary<string, string> { ["password"] = Value });
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await _local.Trousseau.GetSecretAsync("app/absent"));

        var measurements = durations.GetMeasurementSnapshot();
        Assert.Equal(2, measurements.Count);
        var created = measurements[0];
        Assert.Equal("secret.create", created.Tags["trousseau.operation"]);
        Assert.Equal("local", created.Tags["trousseau.key_provider"]);
        Assert.Equal("memory", created.Tags["trousseau.store"]);
        Assert.False(created.Tags.ContainsKey("error.type"));
        Assert.True(created.Value > 0);
        var missing = measurements[1];
        Assert.Equal("secret.get", missing.Tags["trousseau.operation"]);
        Assert.Equal("not_found", missing.Tags["error.type"]);
        Assert.DoesNotContain(measurements.SelectMany(m => m.Tags.Values), v => v is string s && (s.Contains(Value, StringComparison.Ordinal) || s.Contains("app/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Store_calls_are_measured_with_the_tags_of_their_spans()
    {
        var meters = _local.Services.GetRequiredService<IMeterFactory>();
        using var durations = new MetricCollector<double>(meters, TrousseauDiagnostics.MeterName, "db.client.operation.duration");
        var spans = new List<Activity>();

        // This instance's source only: other tests' Trousseau instances, running meanwhile, have sources of the same name.
        var source = _local.Services.GetRequiredService<TrousseauInstrumentation>().ActivitySource;
        using var listener = new ActivityListener
        {
            ShouldListenTo = candidate => ReferenceEquals(candidate, source),
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                if (span.OperationName.StartsWith("trousseau.store.", StringComparison.Ordinal))
                {
                    lock (spans)
                    {
                        spans.Add(span);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);

        await _local.Trousseau.CreateSecretAsync("app/db", SecretType.Opaque, new Dictionary<string, string> { ["password"] = Value });
        await _local.Trousseau.GetSecretAsync("app/db");
        await Assert.ThrowsAsync<SecretNotFoundException>(async () => await _local.Trousseau.DeleteSecretAsync("app/absent"));

        var measurements = durations.GetMeasurementSnapshot();
        Assert.Equal(spans.Count, measurements.Count);
        Assert.Equal(["create", "get", "delete"], measurements.Select(m => (string?)m.Tags["db.operation.name"]));
        for (var i = 0; i < spans.Count; i++)
        {
            Assert.Equal(spans[i].GetTagItem("db.system.name"), measurements[i].Tags["db.system.name"]);
            Assert.Equal(spans[i].GetTagItem("db.operation.name"), measurements[i].Tags["db.operation.name"]);
            Assert.Equal(spans[i].GetTagItem("error.type"), measurements[i].Tags.GetValueOrDefault("error.type"));
        }

        Assert.All(measurements, m => Assert.Equal("memory", m.Tags["db.system.name"]));
        Assert.Equal("not_found", measurements[^1].Tags["error.type"]);
        Assert.DoesNotContain(measurements.SelectMany(m => m.Tags.Values), v => v is string s && (s.Contains(Value, StringComparison.Ordinal) || s.Contains("app/", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_listing_the_caller_stops_early_is_measured_as_a_success()
    {
        var meters = _local.Services.GetRequiredService<IMeterFactory>();
        using var durations = new MetricCollector<double>(meters, TrousseauDiagnostics.MeterName, "trousseau.operation.duration");
        await _local.Trousseau.CreateSecretAsync("list/a", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });
        await _local.Trousseau.CreateSecretAsync("list/b", SecretType.Opaque, new Dictionary<string, string> { ["k"] = "v" });

        await foreach (var first in _local.Trousseau.ListSecretsAsync("list/"))
        {
            Assert.Equal("list/a", first.Name);
            break;
        }

        var listed = Assert.Single(durations.GetMeasurementSnapshot(), m => (string?)m.Tags["trousseau.operation"] == "secret.list");
        Assert.False(listed.Tags.ContainsKey("error.type"));
    }

    [Fact]
    public async Task Data_key_cache_hits_and_misses_are_counted_by_operation()
    {
        var meters = _local.Services.GetRequiredService<IMeterFactory>();
        using var hits = new MetricCollector<long>(meters, TrousseauDiagnostics.MeterName, "trousseau.datakey.cache.hits");
        using var misses = new MetricCollector<long>(meters, TrousseauDiagnostics.MeterName, "trousseau.datakey.cache.misses");

        var first = await _local.Trousseau.EncryptAsync("one"u8.ToArray());
        await _local.Trousseau.EncryptAsync("two"u8.ToArray());
        await _local.Trousseau.DecryptAsync(first.Ciphertext);

        Assert.Equal(["encrypt"], misses.GetMeasurementSnapshot().Select(m => m.Tags["trousseau.operation"]));
        Assert.Equal(["encrypt", "decrypt"], hits.GetMeasurementSnapshot().Select(m => m.Tags["trousseau.operation"]));
    }

    [Fact]
    public void Spans_and_metrics_come_from_one_versioned_source_and_meter_made_by_the_hosts_meter_factory()
    {
        var instrumentation = _local.Services.GetRequiredService<TrousseauInstrumentation>();

        Assert.Same(instrumentation, _local.Services.GetRequiredService<TrousseauInstrumentation>());
        Assert.Equal(TrousseauDiagnostics.ActivitySourceName, instrumentation.ActivitySource.Name);
        Assert.Equal(TrousseauDiagnostics.MeterName, instrumentation.Meter.Name);
        Assert.Same(_local.Services.GetRequiredService<IMeterFactory>(), instrumentation.Meter.Scope);
        Assert.Matches(@"^\d+\.\d+\.\d+", instrumentation.Meter.Version);
        Assert.Equal(instrumentation.Meter.Version, instrumentation.ActivitySource.Version);
    }

    [Fact]
    public async Task A_failed_read_is_one_trace_with_database_and_error_tags_and_no_secret_name()
    {
        using var recorder = new TraceRecorder();
        using (recorder.StartRoot())
        {
            await Assert.ThrowsAsync<SecretNotFoundException>(async () => await _local.Trousseau.GetSecretAsync("app/absent"));
        }

        var trace = recorder.Spans;

        var get = Assert.Single(trace, a => a.OperationName == "trousseau.secret.get");
        Assert.Equal("not_found", get.GetTagItem("error.type"));
        Assert.Equal(ActivityStatusCode.Error, get.Status);
        var store = Assert.Single(trace, a => a.OperationName == "trousseau.store.get");
        Assert.Equal(get.SpanId, store.ParentSpanId);
        Assert.Equal(ActivityKind.Client, store.Kind);
        Assert.Equal("memory", store.GetTagItem("db.system.name"));
        Assert.Equal("get", store.GetTagItem("db.operation.name"));
        Assert.DoesNotContain(trace.SelectMany(a => a.TagObjects), t => t.Value is string s && s.Contains("app/", StringComparison.Ordinal));
    }
}
