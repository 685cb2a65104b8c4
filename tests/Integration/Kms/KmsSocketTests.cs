using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text.Json;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Kms;

/// <summary>clectl kms against trousseaud's socket, and what the socket does with requests that are not proper gRPC.</summary>
public sealed class KmsSocketTests : IAsyncLifetime, IDisposable
{
    private readonly TempDirectory _temp = new();
    private TrousseauServerProcess _server = null!;
    private HttpClient _http = null!;

    private string Socket => _temp.Combine("data", "kms.sock");

    public async Task InitializeAsync()
    {
        _server = await TrousseauServerProcess.StartAsync(_temp.Combine("data"));
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(Socket), ct);
                return new NetworkStream(socket, ownsSocket: true);
            },
        })
        { BaseAddress = new Uri("http://localhost") };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Clectl_kms_reports_status_and_round_trips_binary_bytes()
    {
        var clectl = new ClectlRunner(_temp.Path, new Dictionary<string, string?>());
        var status = await clectl.RunAsync("kms", "status", "--socket", Socket, "-o", "json");
        Assert.True(status.ExitCode == 0, status.Stderr);
        using var statusJson = JsonDocument.Parse(status.Stdout);
        Assert.Equal("ok", statusJson.RootElement.GetProperty("healthz").GetString());

        var dek = string.Concat(Enumerable.Range(0, 32).Select(i => (char)('A' + (i % 26))));
        var encrypted = await clectl.RunWithInputAsync(dek, "kms", "encrypt", "--socket", Socket, "-o", "json");
        Assert.True(encrypted.ExitCode == 0, encrypted.Stderr);
        using var encryptedJson = JsonDocument.Parse(encrypted.Stdout);
        var keyId = encryptedJson.RootElement.GetProperty("keyId").GetString()!;
        var ciphertext = encryptedJson.RootElement.GetProperty("ciphertext").GetString()!;

        var decrypted = await clectl.RunWithInputAsync(ciphertext, "kms", "decrypt", "--socket", Socket, "--key-id", keyId);
        var wrongKey = await clectl.RunWithInputAsync(ciphertext, "kms", "decrypt", "--socket", Socket, "--key-id", "not-issued");
        var noSocket = await clectl.RunAsync("kms", "status", "--socket", _temp.Combine("absent.sock"));

        Assert.Equal(dek, decrypted.Stdout);
        Assert.Equal(statusJson.RootElement.GetProperty("keyId").GetString(), keyId);
        Assert.Equal(2, wrongKey.ExitCode);
        Assert.Contains("InvalidArgument", wrongKey.Stderr, StringComparison.Ordinal);
        Assert.Equal(6, noSocket.ExitCode);
        Assert.Contains("no such socket", noSocket.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_compressed_frame_is_unimplemented()
    {
        var (status, _) = await CallAsync("/v2.KeyManagementService/Status", Frame([], compressed: true));

        Assert.Equal("12", status);
    }

    [Fact]
    public async Task A_truncated_frame_and_a_frame_that_is_not_protobuf_are_internal_errors()
    {
        var truncated = Frame(new byte[10])[..8];
        var notProtobuf = Frame([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]);

        Assert.Equal("13", (await CallAsync("/v2.KeyManagementService/Encrypt", truncated)).Status);
        Assert.Equal("13", (await CallAsync("/v2.KeyManagementService/Encrypt", notProtobuf)).Status);
        Assert.Equal("13", (await CallAsync("/v2.KeyManagementService/Encrypt", [])).Status);
    }

    [Fact]
    public async Task A_message_over_the_size_limit_is_resource_exhausted()
    {
        var header = new byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(1), 512 * 1024 * 1024);

        Assert.Equal("8", (await CallAsync("/v2.KeyManagementService/Encrypt", header)).Status);
    }

    [Fact]
    public async Task A_malformed_deadline_is_invalid_argument_and_a_well_formed_one_is_honoured()
    {
        Assert.Equal("3", (await CallAsync("/v2.KeyManagementService/Status", Frame([]), timeout: "soon")).Status);
        Assert.Equal("0", (await CallAsync("/v2.KeyManagementService/Status", Frame([]), timeout: "2S")).Status);
    }

    [Fact]
    public async Task Requests_that_are_not_grpc_get_plain_http_errors_and_the_plugin_keeps_serving()
    {
        using var wrongType = new HttpRequestMessage(HttpMethod.Post, "/v2.KeyManagementService/Status") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact, Content = new ByteArrayContent(Frame([])) };
        wrongType.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        using var get = new HttpRequestMessage(HttpMethod.Get, "/v1/secrets") { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };

        using var wrongTypeResponse = await _http.SendAsync(wrongType);
        using var getResponse = await _http.SendAsync(get);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, wrongTypeResponse.StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, getResponse.StatusCode);
        Assert.Equal("0", (await CallAsync("/v2.KeyManagementService/Status", Frame([]))).Status);
    }

    private static byte[] Frame(byte[] message, bool compressed = false)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = compressed ? (byte)1 : (byte)0;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame, 5);
        return frame;
    }

    private async Task<(string? Status, string? Message)> CallAsync(string path, byte[] body, string? timeout = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Content = new ByteArrayContent(body),
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (timeout is not null)
        {
            request.Headers.TryAddWithoutValidation("grpc-timeout", timeout);
        }

        using var response = await _http.SendAsync(request);
        await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (Trailer(response, "grpc-status"), Trailer(response, "grpc-message"));
    }

    private static string? Trailer(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var values) || response.Headers.TryGetValues(name, out values) ? values.First() : null;
}
