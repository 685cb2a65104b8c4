using System.Net;
using Microsoft.AspNetCore.Connections;

namespace Trousseau.Server;

/// <summary>
/// How many connections to the HTTP server (<c>Api:Urls</c>) one client address keeps open at once: half of
/// <see cref="ApiConnectionLimit"/>, so that one client holding connections open (idle, or sending its headers slowly)
/// cannot take every connection trousseaud allows, and other callers and kubelet's probes still get in. A connection
/// past it is closed as soon as it is accepted, before any TLS handshake.
/// </summary>
internal sealed class ApiConnectionsPerAddress(long limit)
{
    private readonly Dictionary<IPAddress, long> _open = [];

    /// <summary>The connections one address may have open at once.</summary>
    public long Limit => limit;

    /// <summary>The connection middleware: counts each connection under its remote address while it is open.</summary>
    public ConnectionDelegate Apply(ConnectionDelegate next) => async connection =>
    {
        if (connection.RemoteEndPoint is not IPEndPoint { Address: var remote })
        {
            await next(connection);
            return;
        }

        var address = remote.IsIPv4MappedToIPv6 ? remote.MapToIPv4() : remote;
        if (!TryOpen(address))
        {
            connection.Abort(new ConnectionAbortedException($"{address} already has {limit} connections open."));
            return;
        }

        try
        {
            await next(connection);
        }
        finally
        {
            Close(address);
        }
    };

    private bool TryOpen(IPAddress address)
    {
        lock (_open)
        {
            var open = _open.GetValueOrDefault(address);
            if (open >= limit)
            {
                return false;
            }

            _open[address] = open + 1;
            return true;
        }
    }

    private void Close(IPAddress address)
    {
        lock (_open)
        {
            if (_open[address] == 1)
            {
                _open.Remove(address);
            }
            else
            {
                _open[address]--;
            }
        }
    }
}
