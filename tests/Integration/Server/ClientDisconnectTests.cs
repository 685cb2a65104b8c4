using System.Net.Sockets;
using System.Text;
using Trousseau.Tests.Integration.Infrastructure;

namespace Trousseau.Tests.Integration.Server;

/// <summary>A client of trousseaud that goes away mid-request: what the server's log and audit trail say of it.</summary>
public sealed class ClientDisconnectTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_client_that_disconnects_mid_body_is_audited_as_cancelled_and_logs_no_error_nor_stack_trace()
    {
        var data = _temp.Combine("data");
        await using var server = await TrousseauServerProcess.StartAsync(data);
        var token = await BearerClient.ReadTokenAsync(Path.Combine(data, "api.token"));
        var trail = Path.Combine(data, "audit.log");

        using (var client = new TcpClient())
        {
            await client.ConnectAsync(server.BaseAddress.Host, server.BaseAddress.Port);
            var stream = client.GetStream();
            var head = $"POST /v1/secrets HTTP/1.1\r\nHost: {server.BaseAddress.Authority}\r\nAuthorization: Bearer {token}\r\n"
                + "Content-Type: application/json\r\nContent-Length: 4096\r\nExpect: 100-continue\r\n\r\n";
            await stream.WriteAsync(Encoding.ASCII.GetBytes(head));

            // Kestrel says 100 Continue once the endpoint starts reading the body: the request is then in the API's hands.
            var answer = new byte[256];
            var read = await stream.ReadAsync(answer);
            Assert.StartsWith("HTTP/1.1 100 Continue", Encoding.ASCII.GetString(answer, 0, read), StringComparison.Ordinal);
            await stream.WriteAsync("{\"name\":\"gone/away\",\"type\":\"opaque\",\"data\":{\"k\":\""u8.ToArray());
            await stream.FlushAsync();
        }

        var line = await Eventually.ReturnsAsync(
            () => Task.FromResult(File.Exists(trail) ? File.ReadLines(trail).LastOrDefault(l => l.Contains("\"action\":\"create\"", StringComparison.Ordinal)) : null),
            l => l is not null,
            show: _ => server.Log);

        Assert.True(line!.Contains("\"outcome\":\"cancelled\"", StringComparison.Ordinal), line);

        // Stopped, so that the log holds whatever the server wrote of the request.
        Assert.Equal(0, await server.StopAsync());
        var log = server.Log;
        Assert.DoesNotContain("fail:", log, StringComparison.Ordinal);
        Assert.DoesNotContain("crit:", log, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", log, StringComparison.Ordinal);
        Assert.DoesNotContain(token, log, StringComparison.Ordinal);
    }
}
