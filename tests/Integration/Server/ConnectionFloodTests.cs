using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Connections to the HTTP API that a client opens and leaves idle, more than trousseaud may have files open: they
/// need no token, so anyone who can reach the port can open them. The KMS plugin, the callers already connected and
/// new connections once they are gone must be served all the same. The same holds for connections that each hold as
/// much of a request's headers as Kestrel takes, past what trousseaud's memory allows rather than its open files.
/// </summary>
public sealed class ConnectionFloodTests : IDisposable
{
    private const int OpenFileLimit = 1024;

    private readonly TempDirectory _temp = new();

    [Fact]
    public async Task Idle_connections_past_the_open_file_limit_leave_trousseaud_serving_every_caller()
    {
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartWithOpenFileLimitAsync(dataDir, OpenFileLimit);
        var token = await BearerClient.ReadTokenAsync(Path.Combine(dataDir, "api.token"));
        using var before = BearerClient.Create(server.BaseAddress, token);
        using var created = await before.PostAsJsonAsync(new Uri("v1/secrets", UriKind.Relative), new { name = "flood/kept", data = new { k = "v0" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var during = new List<HttpStatusCode>();
        var flood = new List<Socket>();
        ProcessResult kmsStatus;
        try
        {
            await OpenAsync(flood, new DnsEndPoint(server.BaseAddress.Host, server.BaseAddress.Port), OpenFileLimit + 200);
            kmsStatus = await ClectlRunner.For(server, dataDir, _temp.Path).RunAsync("kms", "status", "--socket", Path.Combine(dataDir, "kms.sock"));
            for (var i = 1; i <= 5; i++)
            {
                using var written = await before.PutAsJsonAsync(new Uri("v1/secrets/flood/kept", UriKind.Relative), new { data = new { k = $"v{i}" } });
                during.Add(written.StatusCode);
            }
        }
        finally
        {
            flood.ForEach(socket => socket.Dispose());
        }

        ClectlAssert.Ok(kmsStatus);
        Assert.All(during, status => Assert.Equal(HttpStatusCode.OK, status));
        using var after = BearerClient.Create(server.BaseAddress, token, TimeSpan.FromSeconds(5));
        await server.AssertAnswersOkAsync(after, "v1/secrets/flood/kept", "a new connection to be answered once the idle ones are closed");
    }

    [Fact]
    public async Task Connections_holding_unfinished_headers_past_the_memory_limit_leave_trousseaud_running_and_serving()
    {
        // The .NET runtime in a container takes 75% of its memory limit as the heap's limit: here a 128 MiB heap, that of
        // a container of about 170 MiB, where 4000 connections each holding 29 KiB of headers would not fit.
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(dataDir, environment: new Dictionary<string, string?> { ["DOTNET_GCHeapHardLimit"] = "0x8000000" });
        var token = await BearerClient.ReadTokenAsync(Path.Combine(dataDir, "api.token"));
        using var before = BearerClient.Create(server.BaseAddress, token);
        using var created = await before.PostAsJsonAsync(new Uri("v1/secrets", UriKind.Relative), new { name = "flood/headers", data = new { k = "v0" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        var headers = new StringBuilder("GET /healthz HTTP/1.1\r\nHost: localhost\r\n");
        for (var i = 0; i < 95; i++)
        {
            headers.Append(CultureInfo.InvariantCulture, $"X-Filler-{i}: {new string('a', 300)}\r\n");
        }

        var flood = new List<Socket>();
        try
        {
            await OpenAsync(flood, new DnsEndPoint(server.BaseAddress.Host, server.BaseAddress.Port), 4000, Encoding.ASCII.GetBytes(headers.ToString()));
            Assert.False(server.HasExited, $"trousseaud exited while {flood.Count} connections held unfinished headers:\n{server.Log}");
            using var written = await before.PutAsJsonAsync(new Uri("v1/secrets/flood/headers", UriKind.Relative), new { data = new { k = "v1" } });
            Assert.Equal(HttpStatusCode.OK, written.StatusCode);
        }
        finally
        {
            flood.ForEach(socket => socket.Dispose());
        }

        using var after = BearerClient.Create(server.BaseAddress, token, TimeSpan.FromSeconds(5));
        await server.AssertAnswersOkAsync(after, "v1/secrets/flood/headers", "a new connection to be answered once the flood is closed");
    }

    [Fact]
    public async Task One_address_holding_idle_connections_leaves_room_for_a_caller_from_another_address()
    {
        // An open-file limit of 1024 allows 512 connections, at most 256 of them from one address.
        var dataDir = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartWithOpenFileLimitAsync(dataDir, OpenFileLimit);
        var token = await BearerClient.ReadTokenAsync(Path.Combine(dataDir, "api.token"));
        using var other = new HttpClient(new SocketsHttpHandler
        {
            // Another client: a connection from 127.0.0.2, which is loopback on Linux as all of 127.0.0.0/8 is.
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
                try
                {
                    socket.Bind(new IPEndPoint(IPAddress.Parse("127.0.0.2"), 0));
                    await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        })
        { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(10) };
        other.DefaultRequestHeaders.Authorization = new("Bearer", token);

        var flood = new List<Socket>();
        try
        {
            await OpenAsync(flood, new DnsEndPoint(server.BaseAddress.Host, server.BaseAddress.Port), OpenFileLimit);
            using var created = await other.PostAsJsonAsync(new Uri("v1/secrets", UriKind.Relative), new { name = "flood/other", data = new { k = "v" } });
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
            using var live = await other.GetAsync(new Uri("healthz", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }
        finally
        {
            flood.ForEach(socket => socket.Dispose());
        }
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// Opens up to <paramref name="count"/> connections that send <paramref name="opening"/> (nothing unless given), and
    /// stops at the first that is not made within 2 s (a server no longer accepting them leaves them in its listen backlog
    /// until that is full).
    /// </summary>
    private static async Task OpenAsync(List<Socket> sockets, EndPoint endpoint, int count, byte[]? opening = null)
    {
        for (var i = 0; i < count; i++)
        {
            var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
            sockets.Add(socket);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            try
            {
                await socket.ConnectAsync(endpoint, timeout.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                return;
            }

            if (opening is not null)
            {
                try
                {
                    await socket.SendAsync(opening, timeout.Token);
                }
                catch (Exception e) when (e is OperationCanceledException or SocketException)
                {
                    // A server past its limit of connections closes this one as it accepts it; the flood goes on.
                }
            }
        }
    }
}
