using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// Loopback TCP ports for the servers tests start (etcd, trousseaud, test servers). They are drawn outside the system's
/// ephemeral range (below it, or above it), from which Linux takes the source port of every outgoing connection and
/// the port of every listener bound to port 0: a port found free there can be taken by any connection before the
/// server it was meant for binds it, which etcd reports only by exiting. No port is handed out twice in one test run.
/// </summary>
internal static class FreePort
{
    private const int Lowest = 10000;
    private const int Highest = 65535;

    private static readonly (int First, int Last) Ephemeral = ReadEphemeralRange();
    private static readonly HashSet<int> Given = [];

    /// <summary>A loopback TCP port that was free a moment ago, outside the ephemeral range.</summary>
    public static int Next()
    {
        for (var attempt = 1; ; attempt++)
        {
            var port = Draw(Ephemeral, Random.Shared);
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

    /// <summary>
    /// A port for <see cref="Next"/> to try: from <see cref="Lowest"/> up, below <paramref name="ephemeral"/> or above
    /// it. A range that leaves no such port is refused: every port a test drew could be taken before its server binds.
    /// </summary>
    internal static int Draw((int First, int Last) ephemeral, Random random)
    {
        var below = Math.Max(0, ephemeral.First - Lowest);
        var aboveStart = Math.Max(ephemeral.Last + 1, Lowest);
        var above = Math.Max(0, Highest + 1 - aboveStart);
        if (below + above == 0)
        {
            throw new InvalidOperationException(
                $"The ephemeral port range {ephemeral.First}-{ephemeral.Last} (sysctl net.ipv4.ip_local_port_range) leaves no port from {Lowest} to {Highest} for the servers tests start; narrow it, for example to 32768 60999.");
        }

        var drawn = random.Next(below + above);
        return drawn < below ? Lowest + drawn : aboveStart + drawn - below;
    }

    /// <summary>Linux's ephemeral range (32768 to 60999 unless the machine changed it).</summary>
    private static (int First, int Last) ReadEphemeralRange()
    {
        try
        {
            var range = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return (int.Parse(range[0], CultureInfo.InvariantCulture), int.Parse(range[1], CultureInfo.InvariantCulture));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return (32768, 60999);
        }
    }
}
