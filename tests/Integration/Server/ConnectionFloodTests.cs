using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>
/// Connections to the HTTP API that a client opens and leaves idle, more than trousseaud may have files open: they
/// need no token, so anyone who can reach the port can open them. The KMS plugin, the callers already connected and
/// new connections once they are gone must be served all the same.
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
        var read = await Eventually.ReturnsAsync(
            async () =>
            {
                try
                {
                    using var response = await after.GetAsync(new Uri("v1/secrets/flood/kept", UriKind.Relative));
                    return (HttpStatusCode?)response.StatusCode;
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                    return null;
                }
            },
            status => status is not null || server.HasExited,
            TimeSpan.FromSeconds(10),
            "a new connection to be answered once the idle ones are closed",
            status => $"{status?.ToString() ?? "no answer"}; trousseaud's output:\n{server.Log}");
        Assert.False(server.HasExited, server.Log);
        Assert.Equal(HttpStatusCode.OK, read);
    }

    public void Dispose() => _temp.Dispose();

    /// <summary>
    /// Opens up to <paramref name="count"/> connections that send nothing, and stops at the first that is not made within
    /// 2 s (a server no longer accepting them leaves them in its listen backlog until that is full).
    /// </summary>
    private static async Task OpenAsync(List<Socket> sockets, EndPoint endpoint, int count)
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
        }
    }
}
