using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Trousseau.Tests.Integration.Infrastructure;

/// <summary>
/// The ports tests start their servers on: one drawn from the ephemeral range can be taken by any outgoing connection
/// before the server binds it (an etcd fixture lost such a race), and one handed out twice makes two servers race.
/// </summary>
public sealed class FreePortTests
{
    [Fact]
    public void Ports_handed_out_are_free_below_the_ephemeral_range_and_never_the_same_twice()
    {
        var ephemeralStart = int.Parse(
            File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' '], StringSplitOptions.RemoveEmptyEntries)[0],
            CultureInfo.InvariantCulture);

        var ports = Enumerable.Range(0, 200).Select(_ => FreePort.Next()).ToList();

        Assert.All(ports, port => Assert.True(port >= 1024 && port < ephemeralStart, $"port {port} is not below the ephemeral range, which starts at {ephemeralStart}"));
        Assert.Empty(ports.GroupBy(port => port).Where(same => same.Count() > 1).Select(same => same.Key));
        Assert.All(ports, port =>
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        });
    }
}
