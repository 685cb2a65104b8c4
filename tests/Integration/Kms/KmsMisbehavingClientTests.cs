using Google.Protobuf;
using Grpc.Core;
using Trousseau.Kms.V2;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>
/// Local clients of the KMS socket that misbehave, hostile or broken, beside a caller that behaves as kube-apiserver
/// does: connections left idle or stalled mid-frame, answers never read, calls reset as soon as they open, oversized
/// metadata, callers hanging up mid-call. Raw frames (<see cref="RawHttp2Connection"/>) stand for what no gRPC client
/// sends; the caller that must keep being served is Grpc.Net.Client (<see cref="KmsV2Client"/>).
/// </summary>
public sealed class KmsMisbehavingClientTests(KmsSocketFixture fixture) : IClassFixture<KmsSocketFixture>
{
    private const string Encrypt = "/v2.KeyManagementService/Encrypt";
    private const byte RefusedStream = 0x7;

    /// <summary>Longer than the socket's own limits (10 s idle; 5 s grace, then 240 bytes/s), shorter than Kestrel's default idle limit (130 s).</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(30);

    private static readonly byte[] Dek = Enumerable.Range(7, 32).Select(i => (byte)i).ToArray();

    private static readonly byte[] EncryptMessage = RawHttp2Connection.GrpcMessage(new EncryptRequest { Plaintext = ByteString.CopyFrom(Dek) }.ToByteArray());

    private string AuditLog => Path.Combine(fixture.Directory, "data", "audit.log");

    [Fact]
    public async Task Two_hundred_idle_or_stalled_connections_keep_no_caller_waiting()
    {
        var connections = new List<RawHttp2Connection>();
        try
        {
            for (var i = 0; i < 200; i++)
            {
                var connection = await RawHttp2Connection.ConnectAsync(fixture.Socket);
                connections.Add(connection);
                if (i % 3 > 0)
                {
                    // The preface, then four bytes of a nine-byte frame header, or a header block never ended.
                    await connection.SendPrefaceAsync();
                    await connection.SendAsync(i % 3 == 1 ? [0, 0, 10, RawHttp2Connection.Headers] : RawHttp2Connection.FrameOf(RawHttp2Connection.Headers, 0, 1, RawHttp2Connection.RequestHeaders(Encrypt)));
                }
            }

            // kube-apiserver's own deadline for a KMS call.
            var encrypted = await fixture.Kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.CopyFrom(Dek) }, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(3)));

            Assert.False(encrypted.Ciphertext.IsEmpty);
        }
        finally
        {
            connections.ForEach(c => c.Dispose());
        }
    }

    [Fact]
    public async Task A_connection_that_never_reads_its_answers_gets_at_most_100_calls_at_once_and_is_closed_while_others_are_served()
    {
        using var stalled = await RawHttp2Connection.ConnectAsync(fixture.Socket);

        // A flow-control window of 0: no answer's message can be sent, and no PING is ever acknowledged.
        await stalled.SendPrefaceAsync((RawHttp2Connection.SettingsInitialWindowSize, 0));
        for (var i = 0; i < 150; i++)
        {
            await stalled.SendCallAsync(1 + (2 * i), Encrypt, EncryptMessage);
        }

        var refused = 0;
        var answersStarted = 0;
        using var reading = new CancellationTokenSource(CloseTimeout);
        while (refused + answersStarted < 150 && await stalled.ReadFrameAsync(reading.Token) is { } frame)
        {
            refused += frame.Type == RawHttp2Connection.RstStream && frame.Payload[3] == RefusedStream ? 1 : 0;
            answersStarted += frame.Type == RawHttp2Connection.Headers ? 1 : 0;
        }

        var served = await fixture.Kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.CopyFrom(Dek) }, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(3)));
        var closing = stalled.ReadUntilClosedAsync();

        Assert.Equal((50, 100), (refused, answersStarted));
        Assert.False(served.Ciphertext.IsEmpty);
        await Eventually.HoldsAsync(() => closing.IsCompleted, () => "the connection holding 100 unread answers is still open", CloseTimeout);
    }

    [Fact]
    public async Task A_client_resetting_its_calls_in_a_loop_is_disconnected_and_others_are_served()
    {
        using var resetting = await RawHttp2Connection.ConnectAsync(fixture.Socket);
        await resetting.SendPrefaceAsync();
        var closing = resetting.ReadUntilClosedAsync();
        var headers = RawHttp2Connection.RequestHeaders(Encrypt);
        var sent = 0;
        try
        {
            for (; sent < 20_000 && !closing.IsCompleted; sent++)
            {
                var stream = 1 + (2 * sent);
                await resetting.SendAsync([
                    .. RawHttp2Connection.FrameOf(RawHttp2Connection.Headers, RawHttp2Connection.EndHeaders, stream, headers),
                    .. RawHttp2Connection.FrameOf(RawHttp2Connection.Data, RawHttp2Connection.EndStream, stream, EncryptMessage),
                    .. RawHttp2Connection.Cancel(stream)]);
            }
        }
        catch (IOException)
        {
            // The plugin closed the connection under the loop.
        }

        var served = await fixture.Kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.CopyFrom(Dek) }, new CallOptions(deadline: DateTime.UtcNow.AddSeconds(3)));

        Assert.True(sent < 20_000, "the plugin served 20,000 calls reset as soon as they opened on one connection");
        Assert.False(served.Ciphertext.IsEmpty);
        await Eventually.HoldsAsync(() => closing.IsCompleted, () => "the resetting connection is still open", CloseTimeout);
    }

    [Fact]
    public async Task Metadata_past_32_KiB_or_100_headers_is_refused_and_the_plugin_keeps_serving()
    {
        var request = new EncryptRequest { Plaintext = ByteString.CopyFrom(Dek) };
        var large = new Metadata { { "x-a", new string('a', 12 * 1024) }, { "x-b", new string('b', 12 * 1024) }, { "x-c", new string('c', 12 * 1024) } };

        var tooLarge = await Assert.ThrowsAsync<RpcException>(() => fixture.Kms.EncryptAsync(request, new CallOptions(large)));
        var tooMany = await Assert.ThrowsAsync<RpcException>(() => fixture.Kms.EncryptAsync(request, new CallOptions(Headers(150))));
        var underBoth = await fixture.Kms.EncryptAsync(request, new CallOptions(Headers(90)));

        // Grpc.Net.Client refuses to send headers past the limit the plugin announced, or the plugin answers HTTP 431.
        Assert.Equal(StatusCode.Internal, tooLarge.StatusCode);
        Assert.Matches("server limit of 32768 bytes|HTTP status code: 431", tooLarge.Status.Detail);
        Assert.Equal(StatusCode.Internal, tooMany.StatusCode);
        Assert.Contains("HTTP status code: 431", tooMany.Status.Detail, StringComparison.Ordinal);
        Assert.False(underBoth.Ciphertext.IsEmpty);
    }

    [Fact]
    public async Task Callers_hanging_up_mid_call_leave_no_warning_in_the_log_and_the_trail_holds_what_the_plugin_answered()
    {
        var logBefore = fixture.Server.Log.Length;
        var recordsBefore = File.ReadLines(AuditLog).Count();
        for (var i = 0; i < 20; i++)
        {
            // Half a request message, then gone.
            using var midRequest = await RawHttp2Connection.ConnectAsync(fixture.Socket);
            await midRequest.SendPrefaceAsync();
            await midRequest.SendAsync([
                .. RawHttp2Connection.FrameOf(RawHttp2Connection.Headers, RawHttp2Connection.EndHeaders, 1, RawHttp2Connection.RequestHeaders(Encrypt)),
                .. RawHttp2Connection.FrameOf(RawHttp2Connection.Data, 0, 1, EncryptMessage[..10])]);
        }

        for (var i = 0; i < 20; i++)
        {
            // The whole request, then gone before the answer.
            using var beforeAnswer = await RawHttp2Connection.ConnectAsync(fixture.Socket);
            await beforeAnswer.SendPrefaceAsync();
            await beforeAnswer.SendCallAsync(1, Encrypt, EncryptMessage);
        }

        var served = await fixture.Kms.EncryptAsync(new EncryptRequest { Plaintext = ByteString.CopyFrom(Dek) });
        var records = File.ReadLines(AuditLog).Skip(recordsBefore).ToList();

        // A call whose caller is gone before it runs leaves no record; one that ran is recorded with the plugin's answer.
        Assert.False(served.Ciphertext.IsEmpty);
        Assert.InRange(records.Count, 1, 21);
        Assert.All(records, r => Assert.Matches("\"grpcStatus\":\"(OK|CANCELLED)\"", r));
        var log = fixture.Server.Log[logBefore..];
        Assert.DoesNotContain("warn:", log, StringComparison.Ordinal);
        Assert.DoesNotContain("fail:", log, StringComparison.Ordinal);
    }

    private static Metadata Headers(int count)
    {
        var metadata = new Metadata();
        for (var i = 0; i < count; i++)
        {
            metadata.Add($"x-header-{i}", "v");
        }

        return metadata;
    }
}
