using System.Net;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>trousseaud's <c>/metrics</c> in the Prometheus text format.</summary>
public sealed class MetricsTests : IDisposable
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
        Assert.Contains("# TYPE trousseau_operation_duration_seconds histogram", text, StringComparison.Ordinal);
        Assert.Matches(@"trousseau_operation_duration_seconds_count\{operation=""secret.create"",outcome=""ok"",provider=""local"",store=""sqlite""\} 1\n", text);
        Assert.Contains("outcome=\"not_found\"", text, StringComparison.Ordinal);
        Assert.Matches(@"trousseau_datakey_cache_hits_total\{operation=""decrypt""\} [1-9]", text);
        Assert.Matches(@"trousseau_kms_requests_total\{grpc_status=""Ok"",method=""v2.KeyManagementService/Status""\} 1\n", text);
        Assert.DoesNotContain(Value, text, StringComparison.Ordinal);
        Assert.DoesNotContain("metrics/db", text, StringComparison.Ordinal);
    }
}
