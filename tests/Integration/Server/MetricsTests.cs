using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>trousseaud's <c>/metrics</c> in the Prometheus text format, as a scraper without a token reads it.</summary>
public sealed partial class MetricsTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Metrics_show_trousseau_series_after_traffic_and_no_secret_value()
    {
        const string Value = "metric-canary-3f9d1c";
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir);
        var clectl = ClectlRunner.For(server, dataDir, _temp.Path);
        Assert.Equal(0, (await clectl.RunAsync("secret", "create", "metrics/db", "--from-literal", $"password={Value}")).ExitCode);
        Assert.Equal(0, (await clectl.RunAsync("secret", "get", "metrics/db")).ExitCode);
        Assert.Equal(3, (await clectl.RunAsync("secret", "get", "metrics/absent")).ExitCode);
        await using (var peer = KmsPeer.Start(Path.Combine(dataDir, "kms.sock")))
        {
            await peer.CallAsync("/v2.KeyManagementService/Status");
        }

        using var response = await server.Http.GetAsync(new Uri(server.BaseAddress, "metrics"));
        var text = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.StartsWith("text/plain", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        Assert.Contains("# TYPE trousseau_operation_duration_seconds histogram\n", text, StringComparison.Ordinal);
        var series = Parse(text);
        Assert.Equal(1, Single(series, "trousseau_operation_duration_seconds_count", ("trousseau_operation", "secret.create"), ("trousseau_key_provider", "local"), ("trousseau_store", "sqlite"), ("error_type", null)));
        Assert.Equal(1, Single(series, "trousseau_operation_duration_seconds_count", ("trousseau_operation", "secret.get"), ("trousseau_key_provider", "local"), ("trousseau_store", "sqlite"), ("error_type", "not_found")));
        Assert.Equal(1, Single(series, "trousseau_datakey_cache_misses_total", ("trousseau_operation", "encrypt")));
        Assert.Equal(1, Single(series, "trousseau_datakey_cache_hits_total", ("trousseau_operation", "decrypt")));
        Assert.Equal(1, Single(series, "trousseau_kms_requests_total", ("rpc_system", "grpc"), ("rpc_service", "v2.KeyManagementService"), ("rpc_method", "Status"), ("rpc_grpc_status_code", "0")));
        Assert.DoesNotContain(Value, text, StringComparison.Ordinal);
        Assert.DoesNotContain("metrics/db", text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, null, "trousseaud")]
    [InlineData("orders-kms", null, "orders-kms")]
    [InlineData(null, "deployment.environment=prod,service.name=kms-node-1", "kms-node-1")]
    [InlineData("orders-kms", "service.name=kms-node-1", "orders-kms")]
    public async Task The_service_name_is_trousseaud_unless_OTEL_SERVICE_NAME_or_OTEL_RESOURCE_ATTRIBUTES_names_it(string? serviceName, string? resourceAttributes, string expected)
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, [], environment: new Dictionary<string, string?>
        {
            ["OTEL_SERVICE_NAME"] = serviceName,
            ["OTEL_RESOURCE_ATTRIBUTES"] = resourceAttributes,
        });

        using var response = await server.Http.GetAsync(new Uri(server.BaseAddress, "metrics"));
        var series = Parse(await response.Content.ReadAsStringAsync());

        Assert.Equal(1, Single(series, "target_info", ("service_name", expected)));
    }

    /// <summary>
    /// The value of the one series named <paramref name="name"/> whose labels are <paramref name="labels"/> (a
    /// <see langword="null"/> value: the label is absent); other labels may be present.
    /// </summary>
    private static double Single(IReadOnlyList<Series> series, string name, params (string Label, string? Value)[] labels)
    {
        var matches = series.Where(s => s.Name == name && labels.All(l => s.Labels.GetValueOrDefault(l.Label) == l.Value)).ToList();
        Assert.True(
            matches.Count == 1,
            $"Expected one {name} series with {string.Join(", ", labels.Select(l => $"{l.Label}={l.Value ?? "(absent)"}"))}, found {matches.Count}. Series named {name}:\n"
                + string.Join('\n', series.Where(s => s.Name == name).Select(s => string.Join(',', s.Labels.Select(l => $"{l.Key}={l.Value}")))));
        return matches[0].Value;
    }

    private static List<Series> Parse(string text) =>
        text.Split('\n').Where(line => line.Length > 0 && line[0] != '#').Select(line =>
        {
            var sample = Sample().Match(line);
            Assert.True(sample.Success, $"Not a Prometheus sample line: {line}");
            var labels = Label().Matches(sample.Groups["labels"].Value).ToDictionary(l => l.Groups["key"].Value, l => Regex.Unescape(l.Groups["value"].Value));
            return new Series(sample.Groups["name"].Value, labels, double.Parse(sample.Groups["value"].Value, CultureInfo.InvariantCulture));
        }).ToList();

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>.*)\})? (?<value>\S+)( \d+)?$")]
    private static partial Regex Sample();

    [GeneratedRegex(@"(?<key>[a-zA-Z_][a-zA-Z0-9_]*)=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex Label();

    private sealed record Series(string Name, Dictionary<string, string> Labels, double Value);
}
