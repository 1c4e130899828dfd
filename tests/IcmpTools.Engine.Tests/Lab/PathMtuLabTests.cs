using System.Net;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// Fragmentation Needed / Packet Too Big across the lab's narrow link (netlab.sh pmtu: r2 -> r3 carries 1400
/// bytes of IPv4, 1280 of IPv6), through raw and datagram sockets, with DontFragment.
/// </summary>
[Collection(LabGroup.Name)]
public sealed class PathMtuLabTests(LabFixture fixture)
{
    private static readonly PingOptions Big = new()
    {
        Count = 3,
        Interval = TimeSpan.FromMilliseconds(50),
        Timeout = TimeSpan.FromSeconds(1),
        PayloadSize = 1450,
        DontFragment = true,
    };

    private List<Reply> PingFromClient(string target, SocketKind kind)
    {
        fixture.Lab.SetPathMtu(on: true);
        fixture.Lab.Exec("c", "sysctl -qw net.ipv4.ping_group_range='0 2147483647'");
        return fixture.Lab.InClient(() =>
        {
            var address = IPAddress.Parse(target);
            // A prober of its own: a shared one might hold a socket opened before the lab's path changed.
            using var prober = new Prober(TransportFactory.Open(new ProberKey(TargetResolver.FamilyOf(address), kind, DontFragment: true)));
            return Ping.StreamAsync(prober, address, Big).ToBlockingEnumerable().ToList();
        });
    }

    [SkippableTheory]
    [InlineData("198.18.16.1", "198.18.2.2", 1400, SocketKind.Raw)]
    [InlineData("198.18.16.1", "198.18.2.2", 1400, SocketKind.Datagram)]
    [InlineData("2001:db8:16::1", "2001:db8:2::2", 1280, SocketKind.Raw)]
    [InlineData("2001:db8:16::1", "2001:db8:2::2", 1280, SocketKind.Datagram)]
    public void TheRouterOfTheNarrowLinkNamesItsMtuAndLaterProbesSayPacketTooBigNotSendFailed(string target, string router, int mtu, SocketKind kind)
    {
        var replies = PingFromClient(target, kind);

        Assert.Equal(3, replies.Count);
        var first = replies[0];
        Assert.Equal(router, first.Source);
        Assert.Equal(mtu, first.Mtu);
        Assert.Equal(target.Contains(':', StringComparison.Ordinal) ? IcmpStatus.PacketTooBig : IcmpStatus.DestinationUnreachable, first.Status);
        // The kernel now knows the path MTU and refuses the next big DontFragment probes itself: they are still
        // the network's answer (too big, and how big fits), never an unexplained SendFailed.
        // (Where the raw transport sends Ethernet frames itself, the kernel's path MTU is not consulted: the probe
        // leaves and the router answers again, Packet Too Big from it. Either way, the answer and its MTU.)
        Assert.All(replies.Skip(1), r =>
        {
            Assert.True(r.Status == IcmpStatus.PacketTooBig || (r.Status == first.Status && r.Source == router), $"{r}");
            Assert.Equal(mtu, r.Mtu);
            Assert.True(r.Source is null || r.Source == router, $"{r}");
        });
        var error = Assert.IsAssignableFrom<IcmpErrorMessageException>(Record.Exception(() => replies[1].ThrowIfError()));
        Assert.Equal(replies[1].Status == IcmpStatus.PacketTooBig, error is PacketTooBigException);
        Assert.Equal(mtu, error.Mtu);
    }

    [SkippableTheory]
    [InlineData("198.18.16.1", "198.18.2.2", 1400, IcmpStatus.DestinationUnreachable)]
    [InlineData("2001:db8:16::1", "2001:db8:2::2", 1280, IcmpStatus.PacketTooBig)]
    public void TheHostKeepsTheRoutersAnswerAndItsMtu(string target, string router, int mtu, IcmpStatus status)
    {
        fixture.Lab.SetPathMtu(on: true);
        var (first, second) = fixture.Lab.InClient(() =>
        {
            var address = IPAddress.Parse(target);
            using var prober = new Prober(TransportFactory.Open(new ProberKey(TargetResolver.FamilyOf(address), SocketKind.Raw, DontFragment: true)));
            var a = Ping.PingAsync(prober, address, null, Big).GetAwaiter().GetResult();
            // Again, now that the kernel knows the MTU: no router answers, but the host still says why.
            var b = Ping.PingAsync(prober, address, null, Big).GetAwaiter().GetResult();
            return (a, b);
        });

        Assert.Equal(status, first.Status);
        Assert.Equal(router, first.StatusSource);
        Assert.Equal(mtu, first.Mtu);
        Assert.True(second.Status == IcmpStatus.PacketTooBig || second.Status == status, $"{second.Status}");
        Assert.Equal(mtu, second.Mtu);
        // Null when this machine refused the probe itself; the router when the frame path sent it anyway.
        Assert.True(second.StatusSource is null || second.StatusSource == router, second.StatusSource);
    }

    [SkippableTheory]
    [InlineData("198.18.16.1", 1400, PathMtuMethod.Reported, "198.18.2.2=1400", SocketKind.Raw)]
    [InlineData("198.18.16.1", 1400, PathMtuMethod.Reported, "198.18.2.2=1400", SocketKind.Datagram)]
    [InlineData("2001:db8:16::1", 1280, PathMtuMethod.Reported, "2001:db8:2::2=1280", SocketKind.Raw)]
    [InlineData("2001:db8:16::1", 1280, PathMtuMethod.Reported, "2001:db8:2::2=1280", SocketKind.Datagram)]
    [InlineData("198.18.17.1", 1400, PathMtuMethod.Search, "", SocketKind.Raw)]
    [InlineData("198.18.17.1", 1400, PathMtuMethod.Search, "", SocketKind.Datagram)]
    [InlineData("2001:db8:17::1", 1280, PathMtuMethod.Search, "", SocketKind.Raw)]
    [InlineData("2001:db8:4::2", 1500, PathMtuMethod.Route, "", SocketKind.Raw)]
    // As Test-IcmpEcho -MtuSize opens it: a raw socket without the frame path, every probe through the kernel.
    [InlineData("198.18.16.1", 1400, PathMtuMethod.Reported, "198.18.2.2=1400", SocketKind.Raw, false)]
    [InlineData("2001:db8:16::1", 1280, PathMtuMethod.Reported, "2001:db8:2::2=1280", SocketKind.Raw, false)]
    [InlineData("198.18.17.1", 1400, PathMtuMethod.Search, "", SocketKind.Raw, false)]
    [InlineData("2001:db8:17::1", 1280, PathMtuMethod.Search, "", SocketKind.Raw, false)]
    public void ThePathMtuIsFoundByTheRoutersWordOrInABlackHoleBySearch(string target, int mtu, PathMtuMethod method, string reports, SocketKind kind,
        bool framePath = true)
    {
        fixture.Lab.SetPathMtu(on: true);
        fixture.Lab.Exec("c", "sysctl -qw net.ipv4.ping_group_range='0 2147483647'");
        var result = fixture.Lab.InClient(() =>
        {
            var address = IPAddress.Parse(target);
            using var prober = new Prober(TransportFactory.Open(new ProberKey(TargetResolver.FamilyOf(address), kind, DontFragment: true,
                FramePath: framePath)));
            return PathMtu.DiscoverAsync(prober, address, new PathMtuOptions()).GetAwaiter().GetResult();
        });

        Assert.Equal(IcmpStatus.Success, result.Status);
        Assert.Equal(mtu, result.Mtu);
        Assert.Equal(method, result.Method);
        Assert.Equal(reports, result.Reports.ToString());
        Assert.Equal(kind == SocketKind.Raw, result.IsPrivileged);
        if (method == PathMtuMethod.Reported)
        {
            // The route's size with the floor's, then the named size (unless it is the floor's): nothing searched.
            Assert.InRange(result.Probes, 2, 3);
        }
    }

    [SkippableTheory]
    [InlineData("198.18.16.1", new[] { 1500, 1500, 1400, 1400 })]
    [InlineData("2001:db8:16::1", new[] { 1500, 1500, 1280, 1280 })]
    [InlineData("198.18.17.1", new[] { 1500, 1500, 1500, 1400 })]
    public void ATraceWithMtuShowsTracepathsColumn(string target, int[] mtus)
    {
        fixture.Lab.SetPathMtu(on: true);
        var hops = fixture.Lab.InClient(() =>
        {
            var address = IPAddress.Parse(target);
            using var prober = new Prober(TransportFactory.Open(new ProberKey(TargetResolver.FamilyOf(address), SocketKind.Raw, DontFragment: true)));
            return TracerouteMtu.StreamAsync(prober, address, new TracerouteOptions { Count = 1 }).ToBlockingEnumerable().ToList();
        });

        // The narrow link is r2's way out: r2 itself is still reached at 1500, every hop beyond it at the narrow MTU.
        // In the black hole, where no router names it, only the destination can say.
        Assert.Equal(mtus, hops.Select(h => h.Mtu ?? 0));
        Assert.Equal(target, hops[^1].Address);
    }
}
