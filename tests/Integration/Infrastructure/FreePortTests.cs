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
    public void Ports_handed_out_are_free_outside_the_ephemeral_range_and_never_the_same_twice()
    {
        var ephemeral = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries)
            .Select(port => int.Parse(port, CultureInfo.InvariantCulture)).ToList();

        var ports = Enumerable.Range(0, 200).Select(_ => FreePort.Next()).ToList();

        Assert.All(ports, port => Assert.True(port >= 1024 && (port < ephemeral[0] || port > ephemeral[1]), $"port {port} is in the ephemeral range {ephemeral[0]}-{ephemeral[1]}"));
        Assert.Empty(ports.GroupBy(port => port).Where(same => same.Count() > 1).Select(same => same.Key));
        Assert.All(ports, port =>
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
        });
    }

    [Theory]
    [InlineData(15000, 60999)]
    [InlineData(32768, 60999)]
    [InlineData(1024, 40000)]
    public void Ports_are_drawn_outside_the_ephemeral_range_wherever_it_starts(int first, int last)
    {
        var random = new Random(1);

        var ports = Enumerable.Range(0, 10_000).Select(_ => FreePort.Draw((first, last), random)).ToList();

        Assert.All(ports, port => Assert.True(port is >= 1024 and <= 65535 && (port < first || port > last), $"port {port} is in the ephemeral range {first}-{last}"));
    }

    [Fact]
    public void An_ephemeral_range_that_leaves_no_port_outside_it_is_refused_naming_the_setting()
    {
        var refused = Assert.Throws<InvalidOperationException>(() => FreePort.Draw((1024, 65535), new Random(1)));

        Assert.Contains("net.ipv4.ip_local_port_range", refused.Message, StringComparison.Ordinal);
    }
}
