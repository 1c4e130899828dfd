using System.Net;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Operations;

/// <summary>
/// The whole traceroute path (planner, scheduler, prober, packet writer and parser) over the fake
/// transport on virtual time: routers answer with Time Exceeded quoting the probe, the target with an
/// echo reply, after virtual delays.
/// </summary>
public sealed class TracerouteTests
{
    private static IEnumerable<Delivery> ThreeRouters(SentEcho echo, IcmpFamily family, HashSet<int>? silent = null)
    {
        var v6 = family == IcmpFamily.IPv6;
        string[] routers = v6 ? ["2001:db8:1::1", "2001:db8:2::2", "2001:db8:3::2"] : ["198.51.100.1", "198.51.100.2", "198.51.100.3"];
        if (echo.Ttl <= routers.Length)
        {
            if (silent?.Contains(echo.Ttl) == true)
            {
                return [];
            }
            return [FakeTransport.Error(echo, TimeSpan.FromMilliseconds(echo.Ttl), IPAddress.Parse(routers[echo.Ttl - 1]),
                v6 ? (byte)3 : (byte)11, 0)];
        }
        return [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(4))];
    }

    private static async Task<List<Hop>> Collect(IAsyncEnumerable<Hop> hops)
    {
        var list = new List<Hop>();
        await foreach (var hop in hops)
        {
            list.Add(hop);
        }
        return list;
    }

    [Theory]
    [InlineData(IcmpFamily.IPv4, "192.0.2.9")]
    [InlineData(IcmpFamily.IPv6, "2001:db8:9::9")]
    public async Task ATraceOverTheFakeNetworkFindsEveryRouterAndTheTarget(IcmpFamily family, string target)
    {
        using var fake = new FakeTransport(null, family);
        fake.Network = echo => ThreeRouters(echo, family);
        using var prober = new Prober(fake, fake.Clock);

        var hops = await VirtualTime.Run(fake.Clock, Collect(Traceroute.StreamAsync(prober, IPAddress.Parse(target), new TracerouteOptions())));

        Assert.Equal([1, 2, 3, 4], hops.Select(h => h.Distance));
        Assert.Equal(IcmpStatus.Success, hops[3].Status);
        Assert.Equal(target, hops[3].Address);
        Assert.All(hops.Take(3), h => Assert.Equal(IcmpStatus.TimeExceeded, h.Status));
        Assert.All(hops.Take(3), h => Assert.Equal(1, h.QuotedTtl));
        // Virtual RTTs: router d answers after d ms, the target after 4 ms.
        Assert.Equal([1.0, 2.0, 3.0, 4.0], hops.Select(h => Math.Round(h.MinRtt!.Value)));
    }

    [Fact]
    public async Task MultipathOverATransportThatCannotHoldAFlowIsRefusedWithTheCapabilityNamed()
    {
        using var fake = new FakeTransport(null, IcmpFamily.IPv4) { Capabilities = TransportCapabilities.Full with { SupportsParis = false } };
        fake.Network = echo => ThreeRouters(echo, IcmpFamily.IPv4);
        using var prober = new Prober(fake, fake.Clock);

        var error = await Assert.ThrowsAsync<TransportCapabilityException>(() =>
            VirtualTime.Run(fake.Clock, Collect(Traceroute.StreamAsync(prober, IPAddress.Parse("192.0.2.9"), new TracerouteOptions { Multipath = true }))));

        Assert.Equal(nameof(TransportCapabilities.SupportsParis), error.Capability);
        Assert.Equal(0, fake.SentCount);
        // Without -Multipath the same transport still traces: the limit is a warning there, not a failure.
        var hops = await VirtualTime.Run(fake.Clock, Collect(Traceroute.StreamAsync(prober, IPAddress.Parse("192.0.2.9"), new TracerouteOptions())));
        Assert.Equal(IcmpStatus.Success, hops[^1].Status);
        Assert.NotEmpty(fake.Capabilities.Limits());
        Assert.Empty(TransportCapabilities.Full.Limits());
    }

    [Theory]
    [InlineData(0, new[] { 1, 2, 3, 4, 5 })]
    [InlineData(250, new[] { 1, 2, 3, 4 })]
    public async Task AnAnswerHandedOverLateCountsWhenTheTransportSaysItMayBeLate(int handOffMilliseconds, int[] distances)
    {
        // The target is 4 hops away. The answers to the TTL 4 probes reach the prober 100 ms after they were sent,
        // those to TTL 5 and beyond after 4 ms, as when iphlpapi's thread-pool completions run late on a loaded
        // machine (a Wine CI run). A socket transport (no hand-off latency) gives TTL 4 the 20 ms adaptive wait
        // and reads it as a silent hop; a transport that declares a 250 ms hand-off keeps it, and the trace ends at 4.
        using var fake = new FakeTransport(null, IcmpFamily.IPv4)
        {
            Capabilities = TransportCapabilities.Full with { HandOffLatency = TimeSpan.FromMilliseconds(handOffMilliseconds) },
        };
        fake.Network = echo => echo.Ttl == 4
            ? [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(100))]
            : ThreeRouters(echo, IcmpFamily.IPv4);
        using var prober = new Prober(fake, fake.Clock);

        var hops = await VirtualTime.Run(fake.Clock, Collect(Traceroute.StreamAsync(prober, IPAddress.Parse("192.0.2.9"),
            new TracerouteOptions { Count = 2 })));

        Assert.Equal(distances, hops.Select(h => h.Distance));
        Assert.Equal(IcmpStatus.Success, hops[^1].Status);
        Assert.Equal(distances.Length == 4 ? IcmpStatus.Success : IcmpStatus.TimedOut, hops[3].Status);
    }

    [Fact]
    public async Task EveryProbeOfAFlowHoldsOneIdentifierAndChecksumAndFlowsDiffer()
    {
        using var fake = new FakeTransport(null, IcmpFamily.IPv4);
        fake.Network = echo => ThreeRouters(echo, IcmpFamily.IPv4);
        using var prober = new Prober(fake, fake.Clock);
        var target = IPAddress.Parse("192.0.2.9");

        await VirtualTime.Run(fake.Clock, Collect(Traceroute.StreamAsync(prober, target, new TracerouteOptions { Count = 5, FlowId = 0 })));
        var flow0 = fake.Sent.ToList();
        await VirtualTime.Run(fake.Clock, Collect(Traceroute.StreamAsync(prober, target, new TracerouteOptions { Count = 5, FlowId = 1 })));
        var flow1 = fake.Sent.Skip(flow0.Count).ToList();

        // Cookies and sequence numbers differ probe by probe; the first four ICMP bytes a balancer hashes do not.
        Assert.True(flow0.Select(e => e.Sequence).Distinct().Count() == flow0.Count);
        Assert.Single(flow0.Select(e => (e.Identifier, e.Checksum)).Distinct());
        Assert.Single(flow1.Select(e => (e.Identifier, e.Checksum)).Distinct());
        Assert.NotEqual(flow0[0].Checksum, flow1[0].Checksum);
        Assert.Equal(Traceroute.SumOf(0), flow0[0].Sum);
        Assert.Equal((ushort)~Traceroute.SumOf(0), flow0[0].Checksum);
        Assert.Equal(Traceroute.IdentifierOf(1), flow1[0].Identifier);
    }

    [Fact]
    public async Task TheIPv6SumIsHeldToo()
    {
        using var fake = new FakeTransport(null, IcmpFamily.IPv6);
        fake.Network = echo => ThreeRouters(echo, IcmpFamily.IPv6);
        using var prober = new Prober(fake, fake.Clock);

        await VirtualTime.Run(fake.Clock, Collect(Traceroute.StreamAsync(prober, IPAddress.Parse("2001:db8:9::9"), new TracerouteOptions { Count = 4 })));

        // The kernel adds the pseudo-header (constant for the trace) to this sum, so the checksum is constant as well.
        Assert.Single(fake.Sent.Select(e => e.Sum).Distinct());
        Assert.Equal(Traceroute.SumOf(0), fake.Sent[0].Sum);
    }

    [Fact]
    public async Task ASilentHopWaitsOnlyTheAdaptiveDeadlineOnTheProber()
    {
        using var fake = new FakeTransport(null, IcmpFamily.IPv4);
        fake.Network = echo => ThreeRouters(echo, IcmpFamily.IPv4, new HashSet<int> { 2 });
        using var prober = new Prober(fake, fake.Clock);
        var start = fake.Clock.GetTimestamp();

        var hops = await VirtualTime.Run(fake.Clock,
            Collect(Traceroute.StreamAsync(prober, IPAddress.Parse("192.0.2.9"), new TracerouteOptions { Timeout = TimeSpan.FromSeconds(30) })));
        var took = fake.Clock.GetElapsedTime(start);

        Assert.Equal([1, 2, 3, 4], hops.Select(h => h.Distance));
        Assert.Null(hops[1].Address);
        Assert.Equal(IcmpStatus.TimedOut, hops[1].Status);
        // Hops beyond answered within 4 ms: the silent one waits 10 x 4 ms (virtual), not 30 s.
        Assert.True(took < TimeSpan.FromSeconds(1), $"took {took} of virtual time");
    }

    [Fact]
    public async Task UnderARateTheWaitCountsFromTheSendNotFromThePlan()
    {
        // Issue 14 (3): eight routers, the destination at 9, 10 probes a second. The 48 probes of the window take
        // 4.8 s to leave, so the probes to TTL 9 go out after 2.4 s: the planner must not time them out before.
        using var fake = new FakeTransport(null, IcmpFamily.IPv4);
        fake.Network = echo => echo.Ttl <= 8
            ? [FakeTransport.Error(echo, TimeSpan.FromMilliseconds(echo.Ttl), IPAddress.Parse($"198.51.100.{echo.Ttl}"), 11, 0)]
            : [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(9))];
        using var prober = new Prober(fake, fake.Clock);

        var hops = await VirtualTime.Run(fake.Clock,
            Collect(Traceroute.StreamAsync(prober, IPAddress.Parse("192.0.2.9"), new TracerouteOptions { Rate = 10 })),
            step: TimeSpan.FromMilliseconds(5), realLimit: TimeSpan.FromMinutes(3));

        Assert.Equal(Enumerable.Range(1, 9), hops.Select(h => h.Distance));
        Assert.Equal(IcmpStatus.Success, hops[8].Status);
        Assert.Equal("192.0.2.9", hops[8].Address);
        Assert.All(hops, h => Assert.Equal(0, h.PacketLoss));
    }

    [Fact]
    public async Task TwoProcessesTracingOneTargetKeepTheirOwnErrors()
    {
        // Issue 14 (4): another process traces the same target with the same flow, and its sequences collide
        // with ours; the routers' errors about its probes (its cookie) reach our raw socket first.
        using var fake = new FakeTransport(null, IcmpFamily.IPv4);
        fake.Network = echo =>
        {
            var ours = ThreeRouters(echo, IcmpFamily.IPv4).ToList();
            if (echo.Ttl > 3)
            {
                return ours;
            }
            var theirs = echo with { Payload = echo.Payload.Select((b, i) => i < 4 ? (byte)~b : b).ToArray() };
            return [FakeTransport.Error(theirs, TimeSpan.FromMilliseconds(0.5), IPAddress.Parse("198.51.100.66"), 11, 0), .. ours];
        };
        using var prober = new Prober(fake, fake.Clock);

        var hops = await VirtualTime.Run(fake.Clock, Collect(Traceroute.StreamAsync(prober, IPAddress.Parse("192.0.2.9"), new TracerouteOptions())));

        Assert.Equal(["198.51.100.1", "198.51.100.2", "198.51.100.3", "192.0.2.9"], hops.Select(h => h.Address));
        Assert.All(hops, h => Assert.Single(h.Addresses));
    }

    [Fact]
    public async Task CancellingStopsTheTraceWithoutMoreHops()
    {
        using var fake = new FakeTransport(null, IcmpFamily.IPv4);
        fake.Network = echo => echo.Ttl == 1 ? ThreeRouters(echo, IcmpFamily.IPv4) : [];
        using var prober = new Prober(fake, fake.Clock);
        using var stop = new CancellationTokenSource();
        var hops = new List<Hop>();

        async Task Run()
        {
            await foreach (var hop in Traceroute.StreamAsync(prober, IPAddress.Parse("192.0.2.9"),
                new TracerouteOptions { Timeout = TimeSpan.FromSeconds(60) }, stop.Token))
            {
                hops.Add(hop);
                await stop.CancelAsync();
            }
        }

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => VirtualTime.Run(fake.Clock, Run()));
        Assert.Equal([1], hops.Select(h => h.Distance));
        Assert.Equal(0, prober.InFlight);
    }
}
