using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Json;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Trousseau.Remote;
using Trousseau.Tests.Integration.Infrastructure;
using Trousseau.Tests.Integration.Kms;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// A client without a token that opens HTTP/2 connections over TLS (ALPN <c>h2</c>) to the API and fills each with as
/// many requests as the server allows, each carrying 29 KiB of headers and never reading its answer: what one
/// connection makes trousseaud hold must fit the memory counted for it, so trousseaud keeps running and serving.
/// </summary>
public sealed class Http2FloodTests : IDisposable
{
    private const int StreamsPerConnection = 100;

    private readonly TempDirectory _temp = new();
    private readonly TestCertificateAuthority _root = TestCertificateAuthority.Create("trousseau test root");

    public void Dispose()
    {
        _root.Dispose();
        _temp.Dispose();
    }

    [Fact]
    public async Task Http2_connections_full_of_requests_with_large_headers_leave_trousseaud_running_and_serving()
    {
        var caFile = _root.WriteCertificate(_temp.Combine("ca.pem"));
        var certificate = _root.IssueServer();
        certificate.WriteTo(_temp.Combine("tls.crt"), _temp.Combine("tls.key"));
        var dataDir = _temp.Combine("data");

        // A 128 MiB heap, as the .NET runtime takes in a container of about 170 MiB.
        await using var server = await TrousseauServerProcess.StartAsync(
            dataDir,
            [$"--Trousseau:Api:Tls:CertFile={_temp.Combine("tls.crt")}", $"--Trousseau:Api:Tls:KeyFile={_temp.Combine("tls.key")}", "--Trousseau:Kms:Enabled=false"],
            new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x8000000" },
            ServerListener.Https(() => TrousseauHttpHandler.Create(new TrousseauClientTlsOptions { CaFile = caFile })));
        var token = await BearerClient.ReadTokenAsync(Path.Combine(dataDir, "api.token"));
        using var before = new HttpClient(TrousseauHttpHandler.Create(new TrousseauClientTlsOptions { CaFile = caFile })) { BaseAddress = server.BaseAddress };
        before.DefaultRequestHeaders.Authorization = new("Bearer", token);
        using var created = await before.PostAsJsonAsync(new Uri("v1/secrets", UriKind.Relative), new { name = "flood/h2", data = new { k = "v0" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var flood = new List<Stream>();
        try
        {
            await OpenAsync(flood, server.BaseAddress, certificate.Thumbprint, 60);
            Assert.False(server.HasExited, $"trousseaud exited while {flood.Count} HTTP/2 connections were open:\n{server.Log}");
            using var written = await before.PutAsJsonAsync(new Uri("v1/secrets/flood/h2", UriKind.Relative), new { data = new { k = "v1" } });
            Assert.Equal(HttpStatusCode.OK, written.StatusCode);
        }
        finally
        {
            flood.ForEach(stream => stream.Dispose());
        }

        await server.AssertAnswersOkAsync(before, "v1/secrets/flood/h2", "a request to be answered once the flood is closed");
    }

    /// <summary>
    /// Opens up to <paramref name="count"/> TLS connections asking for HTTP/2, each sent the preface with a flow-control
    /// window of 0 and <see cref="StreamsPerConnection"/> requests, to the server whose certificate has <paramref name="thumbprint"/>; stops at the first connection that cannot be made.
    /// A connection the server closes or answers in HTTP/1.1 is kept as it is: the flood goes on.
    /// </summary>
    private static async Task OpenAsync(List<Stream> streams, Uri address, string thumbprint, int count)
    {
        var requests = new List<byte>();
        for (var i = 0; i < StreamsPerConnection; i++)
        {
            requests.AddRange(Request(1 + (2 * i)));
        }

        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await socket.ConnectAsync(address.Host, address.Port, timeout.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                socket.Dispose();
                return;
            }

            var tls = new SslStream(new NetworkStream(socket, ownsSocket: true));
            streams.Add(tls);
            try
            {
                await tls.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = address.Host,
                        ApplicationProtocols = [SslApplicationProtocol.Http2],
                        RemoteCertificateValidationCallback = (_, served, _, _) => served is X509Certificate2 { Thumbprint: var shown } && shown == thumbprint,
                    },
                    timeout.Token);
                await tls.WriteAsync(Preface(), timeout.Token);
                await tls.WriteAsync(requests.ToArray(), timeout.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or AuthenticationException)
            {
                // Refused or closed by the server: this connection holds nothing.
            }
        }
    }

    /// <summary>The client preface and a SETTINGS frame with SETTINGS_INITIAL_WINDOW_SIZE 0: no answer's body can be sent.</summary>
    private static byte[] Preface()
    {
        var settings = new byte[6];
        BinaryPrimitives.WriteUInt16BigEndian(settings, 0x4);
        return [.. "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8, .. RawHttp2Connection.FrameOf(0x4, 0, 0, settings)];
    }

    /// <summary>
    /// A GET of <c>/healthz</c> on <paramref name="streamId"/> with 95 headers of 300 bytes, under Kestrel's 32 KiB and
    /// 100 headers: a HEADERS frame and CONTINUATION frames of at most 16 KiB, HPACK literals without indexing.
    /// </summary>
    private static byte[] Request(int streamId)
    {
        var block = new List<byte> { 0x82, 0x87 };
        Literal(block, ":path", "/healthz");
        Literal(block, ":authority", "localhost");
        for (var i = 0; i < 95; i++)
        {
            Literal(block, $"x-filler-{i}", new string('a', 300));
        }

        var frames = new List<byte>();
        var chunks = block.Chunk(16_000).ToList();
        for (var i = 0; i < chunks.Count; i++)
        {
            var last = i == chunks.Count - 1;
            frames.AddRange(i == 0
                ? RawHttp2Connection.FrameOf(0x1, (byte)(0x1 | (last ? 0x4 : 0)), streamId, chunks[i])
                : RawHttp2Connection.FrameOf(0x9, (byte)(last ? 0x4 : 0), streamId, chunks[i]));
        }

        return [.. frames];
    }

    /// <summary>An HPACK literal header field without indexing, new name (RFC 7541 §6.2.2), lengths below 2^14.</summary>
    private static void Literal(List<byte> block, string name, string value)
    {
        block.Add(0x00);
        foreach (var text in (string[])[name, value])
        {
            var bytes = Encoding.ASCII.GetBytes(text);
            if (bytes.Length < 127)
            {
                block.Add((byte)bytes.Length);
            }
            else
            {
                block.Add(127);
                block.Add((byte)(((bytes.Length - 127) & 0x7F) | 0x80));
                block.Add((byte)((bytes.Length - 127) >> 7));
            }

            block.AddRange(bytes);
        }
    }
}
