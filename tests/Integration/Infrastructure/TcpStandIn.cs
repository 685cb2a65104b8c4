using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// A stand-in for a server that misbehaves below HTTP, where Kestrel cannot show the fault: on a free loopback port it
/// accepts each connection, reads the request's first bytes, writes the bytes given (possibly none) and then either
/// closes the connection, keeps it open without another byte until disposed, or goes on writing one chunk of an HTTP
/// chunked body after another for as long as the client reads; or it answers the first connection alone and holds every
/// later one. It counts the connections.
/// </summary>
internal sealed class TcpStandIn : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stopping = new();
    private readonly byte[] _reply;
    private readonly bool _keepOpen;
    private readonly byte[]? _endlessChunk;
    private readonly bool _firstOnly;
    private readonly Task _accepting;
    private int _connections;

    private TcpStandIn(string reply, bool keepOpen, byte[]? endlessChunk = null, bool firstOnly = false)
    {
        _reply = Encoding.ASCII.GetBytes(reply);
        _keepOpen = keepOpen;
        _endlessChunk = endlessChunk;
        _firstOnly = firstOnly;
        _listener.Start();
        BaseAddress = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptAsync();
    }

    /// <summary>The server's URL, ending in '/'.</summary>
    public Uri BaseAddress { get; }

    /// <summary>How many connections it accepted so far.</summary>
    public int Connections => Volatile.Read(ref _connections);

    /// <summary>A server that closes each connection without an answer, as one that crashes while handling a request.</summary>
    public static TcpStandIn Closing() => new("", keepOpen: false);

    /// <summary>A server that accepts and never answers, as a hung process whose socket is still open.</summary>
    public static TcpStandIn Silent() => new("", keepOpen: true);

    /// <summary>A server that writes <paramref name="reply"/> (raw HTTP/1.1, CRLF line ends) and then closes the connection.</summary>
    public static TcpStandIn Writing(string reply) => new(reply, keepOpen: false);

    /// <summary>A server that writes <paramref name="reply"/> and then sends nothing more, keeping the connection open.</summary>
    public static TcpStandIn WritingThenSilent(string reply) => new(reply, keepOpen: true);

    /// <summary>
    /// A server that writes <paramref name="reply"/> on its first connection and closes it, and holds every later one
    /// open without a byte, as one that hangs after its first answer.
    /// </summary>
    public static TcpStandIn AnsweringFirstThenSilent(string reply) => new(reply, keepOpen: false, firstOnly: true);

    /// <summary>
    /// A server that answers with <paramref name="statusLine"/> (say <c>200 OK</c>) and a chunked JSON body that never
    /// ends: <c>{"name":"aaaa…</c>, 64 KiB a chunk, until the client closes the connection.
    /// </summary>
    public static TcpStandIn Endless(string statusLine)
    {
        const int chunkSize = 64 * 1024;
        var chunk = Encoding.ASCII.GetBytes($"{chunkSize:x}\r\n{new string('a', chunkSize)}\r\n");
        return new(
            $"HTTP/1.1 {statusLine}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{{\"name\":\"\r\n",
            keepOpen: false,
            chunk);
    }

    public void Dispose()
    {
        _stopping.Cancel();
        _listener.Dispose();
        _accepting.Wait();
        _stopping.Dispose();
    }

    private async Task AcceptAsync()
    {
        var connections = new List<Task>();
        try
        {
            while (true)
            {
                var client = await _listener.AcceptTcpClientAsync(_stopping.Token);
                var number = Interlocked.Increment(ref _connections);
                connections.Add(ServeAsync(client, held: _firstOnly && number > 1));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // The stand-in was disposed.
        }

        await Task.WhenAll(connections);
    }

    private async Task ServeAsync(TcpClient client, bool held)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                await stream.ReadAtLeastAsync(new byte[4096], 1, throwOnEndOfStream: false, _stopping.Token);
                if (held)
                {
                    await Task.Delay(Timeout.Infinite, _stopping.Token);
                }

                await stream.WriteAsync(_reply, _stopping.Token);
                while (_endlessChunk is not null)
                {
                    await stream.WriteAsync(_endlessChunk, _stopping.Token);
                }

                if (_keepOpen)
                {
                    await Task.Delay(Timeout.Infinite, _stopping.Token);
                }
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException)
            {
                // The client went away, or the stand-in was disposed.
            }
        }
    }
}
