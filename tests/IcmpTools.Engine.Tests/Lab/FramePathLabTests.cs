using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>A lab of its own for the Ethernet send path: these tests change links, MACs and neighbours.</summary>
public sealed class FramePathLabFixture : IDisposable
{
    private readonly Lazy<NetLab> _lab = new(NetLab.Up);

    public NetLab Lab
    {
        get
        {
            LabRequirement.RequireRoot();
            return _lab.Value;
        }
    }

    public void Dispose()
    {
        if (_lab.IsValueCreated)
        {
            _lab.Value.Dispose();
        }
    }
}

/// <summary>
/// The raw transport's Ethernet send path (AF_PACKET frames to the next hop's MAC) in the lab: sweeps through
/// the client's router arrive and are answered, the MAC follows the kernel's neighbour table when it changes,
/// and what is not a plain Ethernet next hop (a local address, a point-to-point device, a neighbour not resolved) goes
/// through the raw socket and is answered all the same. Real sockets in namespaces; nothing times the sweep.
/// </summary>
public sealed class FramePathLabTests(FramePathLabFixture fixture) : IClassFixture<FramePathLabFixture>
{
    private static readonly MultiPingOptions Fast = new() { Count = 1, Timeout = TimeSpan.FromSeconds(1), Rate = 0 };

    private Dictionary<FramePathFallback, long> _fallbacks = new();

    private long FallbacksOf(FramePathFallback reason) => _fallbacks.GetValueOrDefault(reason);

    /// <summary>Sweeps from the client on a transport of its own and returns the hosts and that transport's frame counters.</summary>
    private (List<Host> Hosts, long Frames, long Fallbacks) Sweep(IcmpFamily family, string block, Action? between = null,
        string? secondBlock = null) => fixture.Lab.InClient(() =>
    {
        var transport = (RawSocketTransport)TransportFactory.Open(new ProberKey(family));
        using var prober = new Prober(transport);
        Assert.NotNull(transport.Frames);
        var hosts = Run(prober, block);
        if (between is not null)
        {
            between();
            hosts.AddRange(Run(prober, secondBlock ?? block));
        }
        var frames = transport.Frames!;
        _fallbacks = Enum.GetValues<FramePathFallback>().ToDictionary(r => r, frames.Fallbacks);
        var fallbacks = Enum.GetValues<FramePathFallback>().Where(r => r != FramePathFallback.None).Sum(frames.Fallbacks);
        return (hosts, frames.FramesSent, fallbacks);
    });

    private static List<Host> Run(Prober prober, string block)
    {
        using var sweep = new MultiPing(_ => prober, Fast);
        return sweep.RunAsync(new[] { block }.ToAsyncEnumerable()).ToBlockingEnumerable()
            .Select(r => r.Host ?? throw new InvalidOperationException(r.Error?.Message)).ToList();
    }

    /// <summary>One ping through the kernel, so its neighbour entry for the next hop is resolved and reachable.</summary>
    private void Resolve(string address) => fixture.Lab.Exec("c", $"ping -n -q -c1 -W1 {address} >/dev/null");

    [SkippableTheory]
    [InlineData(IcmpFamily.IPv4, "198.19.1.0/24", "198.18.1.1", 254)]
    [InlineData(IcmpFamily.IPv6, "2001:db8:ff::100/120", "2001:db8:1::1", 256)]
    public void ASweepThroughTheRouterGoesOutAsFramesAndIsAnswered(IcmpFamily family, string block, string router, int count)
    {
        Resolve(router);
        var (hosts, frames, _) = Sweep(family, block);

        Assert.Equal(count, hosts.Count);
        Assert.All(hosts, h => Assert.True(h.IsAlive, h.Address));
        // Kernel stamps on both ends: RTTs across three routers and a veth each are positive and well under the timeout.
        Assert.All(hosts, h => Assert.InRange(h.Rtts[0], 0.0001, 999));
        Assert.True(frames > count / 2, $"only {frames} of {count} probes left as frames");
    }

    [SkippableFact]
    public void ANextHopThatChangesItsMacIsFollowed()
    {
        Resolve("198.18.1.1");
        var original = fixture.Lab.Exec("r1", "cat /sys/class/net/to-c/address").Trim();
        try
        {
            var (hosts, frames, _) = Sweep(IcmpFamily.IPv4, "198.19.2.0/24", between: () =>
            {
                // The router's MAC changes, and the client's kernel learns the new one (as it would on re-resolving):
                // frames to the old MAC would reach nobody, so every host answering proves the new one was used.
                fixture.Lab.Exec("r1", "ip link set to-c address 02:16:5e:00:16:01");
                fixture.Lab.Exec("c", "ip neigh replace 198.18.1.1 lladdr 02:16:5e:00:16:01 dev to-r1 nud reachable");
            }, secondBlock: "198.19.3.0/24");

            Assert.Equal(508, hosts.Count);
            Assert.All(hosts, h => Assert.True(h.IsAlive, h.Address));
            Assert.True(frames > 254, $"only {frames} frames over two sweeps of 254");
        }
        finally
        {
            fixture.Lab.Exec("r1", $"ip link set to-c address {original}");
            fixture.Lab.Exec("c", $"ip neigh replace 198.18.1.1 lladdr {original} dev to-r1 nud reachable");
        }
    }

    [SkippableTheory]
    [InlineData(IcmpFamily.IPv4, "198.19.6.0/24", "198.18.1.1", 254)]
    [InlineData(IcmpFamily.IPv6, "2001:db8:ff::300/120", "2001:db8:1::1", 256)]
    public void ASweepOutOfABridgeGoesOutAsFramesAndIsAnswered(IcmpFamily family, string block, string router, int count)
    {
        // A device stacked on the client's link. This kernel has neither 8021q nor bonding (no VLAN, no bond can be
        // made), so it is a bridge: the link to the router becomes its port and the client's addresses move onto
        // it. The route's device is then the bridge, whose MAC and neighbours the frames must use; the bridge hands
        // them to its port. forward_delay 0: the port forwards at once rather than after its listening state.
        fixture.Lab.Exec("c", "ip addr flush dev to-r1 && ip link add h22br0 type bridge forward_delay 0 && " +
            "ip link set to-r1 master h22br0 && ip addr add 198.18.1.2/24 dev h22br0 && " +
            "ip addr add 2001:db8:1::2/64 dev h22br0 nodad && ip link set h22br0 up && " +
            "ip route replace default via 198.18.1.1 dev h22br0 && ip -6 route replace ::/0 via 2001:db8:1::1 dev h22br0");
        try
        {
            // The port may take a moment to forward: ping (bounded) until the router answers, which also resolves it.
            fixture.Lab.Exec("c", $"for i in $(seq 60); do ping -n -q -c1 -W1 {router} >/dev/null && exit 0; sleep 0.1; done; exit 1");
            Assert.Equal("h22br0", fixture.Lab.Exec("c", $"ip route get {router} | grep -o 'dev [^ ]*' | cut -d' ' -f2").Trim());

            var (hosts, frames, _) = Sweep(family, block);

            Assert.Equal(count, hosts.Count);
            Assert.All(hosts, h => Assert.True(h.IsAlive, h.Address));
            Assert.True(frames > count / 2, $"only {frames} of {count} probes left as frames through the bridge");
        }
        finally
        {
            // Back to the lab's own shape for the other tests: the port leaves with the bridge, the addresses and
            // routes return to the link.
            fixture.Lab.Exec("c", "ip link del h22br0; ip addr replace 198.18.1.2/24 dev to-r1 && " +
                "ip addr replace 2001:db8:1::2/64 dev to-r1 nodad && ip link set to-r1 up && " +
                "ip route replace default via 198.18.1.1 dev to-r1 && ip -6 route replace ::/0 via 2001:db8:1::1 dev to-r1");
        }
    }

    [SkippableFact]
    public void AnUnresolvedNeighbourGoesThroughTheRawSocketUntilTheKernelHasResolvedIt()
    {
        fixture.Lab.Exec("c", "ip neigh flush dev to-r1");
        var (hosts, frames, fallbacks) = Sweep(IcmpFamily.IPv4, "198.19.4.0/30", between: () => Resolve("198.18.1.1"),
            secondBlock: "198.19.4.0/24");

        Assert.All(hosts, h => Assert.True(h.IsAlive, h.Address));
        Assert.True(FallbacksOf(FramePathFallback.NeighbourUnresolved) >= 2, $"{fallbacks} packets fell back while the router's MAC was unknown");
        Assert.True(frames > 0, "no frames once the kernel had resolved the router");
    }

    [SkippableFact]
    public void AnAddressOfTheClientItselfGoesThroughTheRawSocket()
    {
        var (hosts, frames, fallbacks) = Sweep(IcmpFamily.IPv4, "198.18.1.2");

        Assert.True(Assert.Single(hosts).IsAlive);
        Assert.Equal(0, frames);
        Assert.Equal(1, fallbacks);
        Assert.Equal(1, FallbacksOf(FramePathFallback.NotUnicast));
    }

    [SkippableFact]
    public void ARouteThroughAPointToPointDeviceGoesThroughTheRawSocket()
    {
        // A tun device (point-to-point, no link-layer address) with nobody reading it: what goes in is lost, but
        // the kernel's own path must have taken it, never a frame.
        fixture.Lab.Exec("c", "ip tuntap add h16tun0 mode tun && ip link set h16tun0 up && ip route add 198.18.46.0/24 dev h16tun0");
        try
        {
            var (hosts, frames, _) = Sweep(IcmpFamily.IPv4, "198.18.46.0/30");

            Assert.Equal(2, hosts.Count);
            Assert.All(hosts, h => Assert.False(h.IsAlive, h.Address));
            Assert.Equal(0, frames);
            Assert.Equal(2, FallbacksOf(FramePathFallback.NotEthernet));
        }
        finally
        {
            fixture.Lab.Exec("c", "ip link del h16tun0");
        }
    }
}
