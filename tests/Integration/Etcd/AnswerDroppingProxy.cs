using System.Net;
using System.Net.Sockets;

namespace Trousseau.Tests.Integration.Etcd;

/// <summary>
/// A TCP relay in front of etcd that can swallow etcd's answers while still passing requests on, then cut every
/// connection: what a client sees when the network fails after its request reached etcd. It can also stop listening,
/// so that connecting is refused as when etcd is down, and listen again on the same port.
/// </summary>
internal sealed class AnswerDroppingProxy : IAsyncDisposable
{
    private TcpListener _listener = new(IPAddress.Loopback, 0);
    private TaskCompletionSource _listening = new();
    private readonly Uri _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<(TcpClient Client, TcpClient Server)> _connections = [];
    private readonly Task _accepting;
    private volatile bool _dropAnswers;
    private volatile bool _refuse;

    private AnswerDroppingProxy(Uri target)
    {
        _target = target;
        _listener.Start();
        _listening.SetResult();
        Url = new Uri($"http://127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}/");
        _accepting = AcceptAsync();
    }

    public Uri Url { get; }

    public static AnswerDroppingProxy Start(Uri target) => new(target);

    /// <summary>From now on, requests still reach etcd but its answers are thrown away.</summary>
    public void DropAnswers() => _dropAnswers = true;

    /// <summary>Closes every open connection, and lets answers through again on the connections that follow.</summary>
    public void CutAndHeal() => Cut(refuse: false);

    /// <summary>Closes every open connection and refuses new ones, as if etcd were unreachable, until <see cref="CutAndHeal"/>.</summary>
    public void CutAndRefuse() => Cut(refuse: true);

    /// <summary>Closes every connection and stops listening: connecting is refused, as when etcd is down, until <see cref="ListenAgain"/>.</summary>
    public void Unplug()
    {
        lock (_connections)
        {
            _listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            _listener.Stop();
        }

        CutAndHeal();
    }

    /// <summary>Listens again on the same port after <see cref="Unplug"/>.</summary>
    public void ListenAgain()
    {
        lock (_connections)
        {
            _listener = new TcpListener(IPAddress.Loopback, Url.Port);
            _listener.Start();
            _listening.SetResult();
        }
    }

    private void Cut(bool refuse)
    {
        lock (_connections)
        {
            _dropAnswers = false;
            _refuse = refuse;
            foreach (var (client, server) in _connections)
            {
                client.Client.LingerState = new LingerOption(true, 0);
                client.Dispose();
                server.Dispose();
            }

            _connections.Clear();
        }
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpListener listener;
            Task listening;
            lock (_connections)
            {
                (listener, listening) = (_listener, _listening.Task);
            }

            TcpClient client;
            try
            {
                await listening.WaitAsync(_stop.Token);
                client = await listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
            {
                // Unplugged (before or while accepting): wait until it listens again.
                continue;
            }

            if (_refuse)
            {
                client.Dispose();
                continue;
            }

            var server = new TcpClient();
            await server.ConnectAsync(_target.Host, _target.Port);
            lock (_connections)
            {
                _connections.Add((client, server));
            }

            _ = RelayAsync(client.GetStream(), server.GetStream(), dropWhenAsked: false);
            _ = RelayAsync(server.GetStream(), client.GetStream(), dropWhenAsked: true);
        }
    }

    private async Task RelayAsync(NetworkStream from, NetworkStream to, bool dropWhenAsked)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, _stop.Token)) > 0)
            {
                if (!(dropWhenAsked && _dropAnswers))
                {
                    await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
                }
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
            // The connection was cut (by this proxy or an end): the relay ends with it.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        lock (_connections)
        {
            _listener.Stop();
        }

        await _accepting;
        CutAndHeal();
        _stop.Dispose();
    }
}
