using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// Loopback TCP ports for the servers tests start (etcd, trousseaud, test servers). They are drawn below the system's
/// ephemeral range, from which Linux takes the source port of every outgoing connection and the port of every listener
/// bound to port 0: a port found free there can be taken by any connection before the server it was meant for binds
/// it, which etcd reports only by exiting. No port is handed out twice in one test run.
/// </summary>
internal static class FreePort
{
    private const int Lowest = 10000;

    private static readonly int EphemeralStart = ReadEphemeralStart();
    private static readonly HashSet<int> Given = [];

    /// <summary>A loopback TCP port that was free a moment ago, outside the ephemeral range.</summary>
    public static int Next()
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = Random.Shared.Next(Lowest, EphemeralStart);
            lock (Given)
            {
                if (!Given.Add(port))
                {
                    continue;
                }
            }

            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException) when (attempt < 1000)
            {
                // Taken by something outside the tests: draw another.
            }
        }
    }

    /// <summary>The first port of Linux's ephemeral range (32768 unless the machine changed it), at least 20000.</summary>
    private static int ReadEphemeralStart()
    {
        try
        {
            var first = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0];
            return Math.Max(20000, int.Parse(first, CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return 32768;
        }
    }
}
