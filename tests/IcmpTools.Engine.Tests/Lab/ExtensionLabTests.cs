using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// ICMP extensions from a router on an MPLS path (netlab.sh ext: r2 answers with crafted Time Exceeded messages,
/// as MPLS routers send them), read through raw sockets and through datagram sockets' error queues.
/// </summary>
[Collection(LabGroup.Name)]
public sealed class ExtensionLabTests
{
    private readonly LabFixture _fixture;

    public ExtensionLabTests(LabFixture fixture)
    {
        _fixture = fixture;
        _fixture.Lab.SetExtensionResponder(on: true);
        _fixture.Lab.Exec("c", "sysctl -qw net.ipv4.ping_group_range='0 2147483647'");
    }

    private List<Hop> Trace(string target, SocketKind kind) => _fixture.Lab.InClient(() =>
    {
        var address = IPAddress.Parse(target);
        using var prober = new Prober(TransportFactory.Open(new ProberKey(TargetResolver.FamilyOf(address), kind)));
        var options = new TracerouteOptions { Timeout = TimeSpan.FromSeconds(2), Count = 2, MaxHops = 6 };
        return Traceroute.StreamAsync(prober, address, options).ToBlockingEnumerable().ToList();
    });

    public static TheoryData<string, string, SocketKind> Compliant() => new()
    {
        { "198.18.18.1", "198.18.2.2", SocketKind.Raw },
        { "198.18.18.1", "198.18.2.2", SocketKind.Datagram },
        { "2001:db8:18::1", "2001:db8:2::2", SocketKind.Raw },
        { "2001:db8:18::1", "2001:db8:2::2", SocketKind.Datagram },
    };

    [SkippableTheory]
    [MemberData(nameof(Compliant))]
    public void TheMplsHopShowsItsLabelStackAndIncomingInterface(string target, string router, SocketKind kind)
    {
        var hops = Trace(target, kind);

        Assert.Equal(3, hops.Count);
        var hop = hops[1];
        Assert.Equal(router, hop.Address);
        Assert.Equal("L=24001,TC=0,S=0,TTL=1 L=16,TC=5,S=1,TTL=1", hop.Mpls.ToString());
        var info = Assert.Single(hop.InterfaceInfo);
        Assert.Equal(new InterfaceInfo(InterfaceRole.Incoming, 7, router, "to-r1", 1500), info);
        // The hops around it carry nothing: the extensions belong to the router that sent them.
        Assert.Empty(hops[0].Mpls);
        Assert.Empty(hops[2].Mpls);
        Assert.Equal(target, hops[2].Address);
    }

    [SkippableTheory]
    [InlineData("198.18.18.2", SocketKind.Raw)]
    [InlineData("198.18.18.2", SocketKind.Datagram)]
    [InlineData("2001:db8:18::2", SocketKind.Raw)]
    [InlineData("2001:db8:18::2", SocketKind.Datagram)]
    public void ANonCompliantRoutersLabelsAreFoundAfter128Bytes(string target, SocketKind kind)
    {
        var hops = Trace(target, kind);

        Assert.Equal(2, hops[1].Mpls.Count);
        Assert.Empty(hops[1].InterfaceInfo);
    }

    [SkippableTheory]
    [InlineData("198.18.18.3", "198.18.2.2", SocketKind.Raw)]
    [InlineData("198.18.18.3", "198.18.2.2", SocketKind.Datagram)]
    [InlineData("2001:db8:18::3", "2001:db8:2::2", SocketKind.Raw)]
    [InlineData("2001:db8:18::3", "2001:db8:2::2", SocketKind.Datagram)]
    public void ABadExtensionChecksumCostsTheLabelsNotTheHop(string target, string router, SocketKind kind)
    {
        var hops = Trace(target, kind);

        Assert.Equal(router, hops[1].Address);
        Assert.Equal(IcmpStatus.TimeExceeded, hops[1].Status);
        Assert.Empty(hops[1].Mpls);
        Assert.Equal(target, hops[2].Address);
    }

    [SkippableTheory]
    [InlineData("198.18.18.1", SocketKind.Raw)]
    [InlineData("198.18.18.1", SocketKind.Datagram)]
    [InlineData("2001:db8:18::1", SocketKind.Datagram)]
    public void APingsTimeExceededReplyCarriesTheLabels(string target, SocketKind kind)
    {
        var replies = _fixture.Lab.InClient(() =>
        {
            var address = IPAddress.Parse(target);
            using var prober = new Prober(TransportFactory.Open(new ProberKey(TargetResolver.FamilyOf(address), kind)));
            var options = new PingOptions { Count = 1, Ttl = 2, Timeout = TimeSpan.FromSeconds(2) };
            return Ping.StreamAsync(prober, address, options).ToBlockingEnumerable().ToList();
        });

        var reply = Assert.Single(replies);
        Assert.Equal(IcmpStatus.TimeExceeded, reply.Status);
        Assert.Equal([24001, 16], reply.Mpls.Select(l => l.Label));
        Assert.Equal("to-r1", Assert.Single(reply.InterfaceInfo).Name);
    }
}
