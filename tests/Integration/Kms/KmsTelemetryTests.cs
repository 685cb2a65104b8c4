using System.Collections.Concurrent;
using System.Diagnostics;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Trousseau.Kms.V2;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// The <c>trousseau.kms.request</c> server span as the gRPC semantic conventions ask: status <c>Error</c> only for the
/// codes that say the server failed; a caller's own mistake (INVALID_ARGUMENT, a key id this plugin never issued)
/// leaves it unset, as a 4xx leaves an HTTP server span. The plugin is hosted in process on a real Unix socket, and a
/// listener on the <c>Trousseau</c> source takes the spans.
/// </summary>
public sealed class KmsTelemetryTests : IDisposable
{
    private readonly TempDirectory _temp = new();
    private readonly ConcurrentQueue<Activity> _spans = new();
    private readonly ActivityListener _listener;

    public KmsTelemetryTests()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == TrousseauDiagnostics.ActivitySourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = span =>
            {
                if (span.OperationName == "trousseau.kms.request")
                {
                    _spans.Enqueue(span);
                }
            },
        };
        ActivitySource.AddActivityListener(_listener);
    }

    public void Dispose()
    {
        _listener.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task A_call_the_caller_got_wrong_leaves_the_server_span_status_unset_with_its_grpc_code()
    {
        var socket = _temp.Combine("run", "kms.sock");
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddTrousseau()
            .UseLocalKeyRing(ring => ring.KeyFile = _temp.Combine("ring.json"))
            .UseInMemoryStore()
            .AddKmsPlugin(kms => kms.Socket = socket);
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            using var channel = KmsSocketTests.ChannelFor(socket);
            var kms = new KmsV2Client(channel.CreateCallInvoker());

            var empty = await Assert.ThrowsAsync<RpcException>(() => kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.Empty, Uid = "telemetry-1" }));
            var foreign = await Assert.ThrowsAsync<RpcException>(() => kms.DecryptAsync(new DecryptRequest
            {
                Ciphertext = ByteString.CopyFrom(new byte[48]),
                KeyId = "local-0000000000000000-v1-00000000",
                Uid = "telemetry-2",
            }));

            Assert.Equal(StatusCode.InvalidArgument, empty.StatusCode);
            Assert.Equal(StatusCode.InvalidArgument, foreign.StatusCode);
            await Eventually.HoldsAsync(() => _spans.Count(s => s.GetTagItem("rpc.method") is "Encrypt" or "Decrypt") == 2, () => $"{_spans.Count} KMS spans");
            Assert.All(
                _spans.Where(s => s.GetTagItem("rpc.method") is "Encrypt" or "Decrypt"),
                span =>
                {
                    Assert.Equal((int)StatusCode.InvalidArgument, span.GetTagItem("rpc.grpc.status_code"));
                    Assert.Equal(ActivityStatusCode.Unset, span.Status);
                });
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
