using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Google.Protobuf;

namespace Trousseau.Kms.Grpc;

/// <summary>
/// A small unary gRPC client over a Unix socket (HTTP/2 with prior knowledge), for <c>clectl kms</c> and
/// checks of any KMS plugin. Failures arrive as <see cref="GrpcException"/> carrying the server's status.
/// </summary>
internal sealed class UnaryGrpcClient : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _socket;

    public UnaryGrpcClient(string socket, TimeSpan timeout)
    {
        _socket = socket;
        var handler = new SocketsHttpHandler
        {
            ConnectCallback = async (_, cancellationToken) =>
            {
                var connection = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                try
                {
                    await connection.ConnectAsync(new UnixDomainSocketEndPoint(socket), cancellationToken).ConfigureAwait(false);
                    return new NetworkStream(connection, ownsSocket: true);
                }
                catch
                {
                    connection.Dispose();
                    throw;
                }
            },
        };
        _http = new HttpClient(handler) { BaseAddress = new Uri("http://localhost"), Timeout = timeout };
        Timeout = timeout;
    }

    public TimeSpan Timeout { get; }

    public async Task<TResponse> CallAsync<TResponse>(string path, IMessage request, MessageParser<TResponse> parser, CancellationToken cancellationToken)
        where TResponse : IMessage<TResponse>
    {
        var body = new byte[5 + request.CalculateSize()];
        BinaryPrimitives.WriteUInt32BigEndian(body.AsSpan(1), (uint)(body.Length - 5));
        request.WriteTo(body.AsSpan(5));
        using var message = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = new ByteArrayContent(body),
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        message.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        message.Headers.TryAddWithoutValidation("te", "trailers");
        message.Headers.TryAddWithoutValidation("grpc-timeout", $"{(long)Timeout.TotalMilliseconds}m");

        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e)
        {
            var reason = !File.Exists(_socket) ? "no such socket" : e.InnerException is SocketException socketError ? socketError.Message : e.Message;
            throw new GrpcException(GrpcStatusCode.Unavailable, $"cannot reach the KMS socket {_socket}: {reason}");
        }

        using (response)
        {
            var payload = await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
            var status = Header(response, "grpc-status");
            if (response.StatusCode != HttpStatusCode.OK || status is null)
            {
                throw new GrpcException(GrpcStatusCode.Unknown, $"the socket did not answer as a gRPC server (HTTP {(int)response.StatusCode}).");
            }

            if (status != "0")
            {
                var code = int.TryParse(status, System.Globalization.CultureInfo.InvariantCulture, out var parsed) ? (GrpcStatusCode)parsed : GrpcStatusCode.Unknown;
                throw new GrpcException(code, $"the KMS plugin answered {code}: {Uri.UnescapeDataString(Header(response, "grpc-message") ?? "")}");
            }

            if (payload.Length < 5 || payload[0] != 0 || BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(1)) != payload.Length - 5)
            {
                throw new GrpcException(GrpcStatusCode.Internal, "the response message is not one uncompressed gRPC frame.");
            }

            return parser.ParseFrom(payload.AsSpan(5));
        }
    }

    public void Dispose() => _http.Dispose();

    private static string? Header(HttpResponseMessage response, string name) =>
        response.TrailingHeaders.TryGetValues(name, out var values) || response.Headers.TryGetValues(name, out values)
            ? values.FirstOrDefault()
            : null;
}
