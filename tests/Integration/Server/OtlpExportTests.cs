using System.Collections.Concurrent;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// trousseaud exports traces and metrics over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set: its own, ASP.NET
/// Core's and HttpClient's, with no secret value and no secret name (request spans carry the route, not the path).
/// </summary>
public sealed class OtlpExportTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Traces_and_metrics_reach_the_collector_without_secret_values()
    {
        const string Value = "otlp-canary-77ab2e";
        var received = new ConcurrentQueue<(string Path, byte[] Body)>();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var collector = builder.Build();
        collector.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            received.Enqueue((context.Request.Path.Value ?? "", body.ToArray()));
        });
        await collector.StartAsync();
        var endpoint = collector.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

        var dataDir = _temp.Combine("data");
        var socket = _temp.Combine("run", "kms.sock");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, ["--kms-socket", socket], environment: new Dictionary<string, string?>
        {
            ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint,
            ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
            ["OTEL_METRIC_EXPORT_INTERVAL"] = "500",
            ["OTEL_BSP_SCHEDULE_DELAY"] = "200",
        });
        var clectl = ClectlRunner.For(server, dataDir, _temp.Path);
        Assert.Equal(0, (await clectl.RunAsync("secret", "create", "otlp/db", "--from-literal", $"password={Value}")).ExitCode);
        Assert.Equal(0, (await clectl.RunAsync("secret", "get", "otlp/db")).ExitCode);
        await using (var peer = KmsPeer.Start(socket))
        {
            var dek = Convert.ToBase64String(Encoding.ASCII.GetBytes(Value.PadRight(32, '-')));
            Assert.Equal("OK", (await peer.CallAsync("/v2.KeyManagementService/Encrypt", new { plaintext = dek, uid = "uid-1" })).GetProperty("code").GetString());
        }

        Assert.Equal(0, await server.StopAsync());

        var paths = received.Select(r => r.Path).ToHashSet();
        Assert.Contains("/v1/traces", paths);
        Assert.Contains("/v1/metrics", paths);
        var everything = string.Concat(received.Select(r => Encoding.Latin1.GetString(r.Body)));
        Assert.Contains("trousseau.secret.create", everything, StringComparison.Ordinal);
        Assert.Contains("trousseau.store.create", everything, StringComparison.Ordinal);
        Assert.Contains("trousseau.keyprovider.wrap", everything, StringComparison.Ordinal);
        Assert.Contains("trousseau.kms.request", everything, StringComparison.Ordinal);
        Assert.Contains("v2.KeyManagementService/Encrypt", everything, StringComparison.Ordinal);
        Assert.Contains("trousseau.operation.duration", everything, StringComparison.Ordinal);
        Assert.Contains("/v1/secrets/{**name}", everything, StringComparison.Ordinal);
        Assert.Contains("http.server.request.duration", everything, StringComparison.Ordinal);
        Assert.DoesNotContain(Value, everything, StringComparison.Ordinal);
        Assert.DoesNotContain("otlp/db", everything, StringComparison.Ordinal);
    }
}
