using System.Buffers.Binary;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Operations;

/// <summary>Path MTU discovery over the fake network, on virtual time: jumps to named MTUs, searches black holes, says how.</summary>
public sealed class PathMtuTests
{
    private static readonly IPAddress Target = IPAddress.Parse("192.0.2.9");
    private static readonly IPAddress Router2 = IPAddress.Parse("198.51.100.2");
    private static readonly IPAddress Router3 = IPAddress.Parse("198.51.100.3");
    private static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(2);

    private static int SizeOf(SentEcho echo) => echo.Payload.Length + 28;

    /// <summary>A Fragmentation Needed naming <paramref name="mtu"/> (RFC 1191: the next-hop MTU in the header's last two bytes).</summary>
    private static Delivery FragNeeded(SentEcho echo, IPAddress router, int mtu)
    {
        var error = FakeTransport.Error(echo, Rtt, router, IcmpTypes.V4DestinationUnreachable, 4);
        var icmp = error.Datagram.AsSpan(20);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[6..], (ushort)mtu);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], InternetChecksum.Compute(icmp));
        return error;
    }

    private static async Task<(PathMtuResult Result, FakeTransport Fake)> Discover(Func<SentEcho, IEnumerable<Delivery>> network, PathMtuOptions? options = null,
        IPAddress? target = null)
    {
        target ??= Target;
        var fake = new FakeTransport(network, TargetResolver.FamilyOf(target));
        using var prober = new Prober(fake, fake.Clock);
        var result = await VirtualTime.Run(fake.Clock, PathMtu.DiscoverAsync(prober, target, options ?? new PathMtuOptions()), TimeSpan.FromMilliseconds(5));
        return (result, fake);
    }

    /// <summary>A PMTU black hole: packets larger than <paramref name="mtu"/> vanish, and so does the first probe of each size in <paramref name="lost"/>.</summary>
    private static Func<SentEcho, IEnumerable<Delivery>> BlackHole(int mtu, int headers = 28, params int[] lost)
    {
        var seen = new HashSet<int>();
        return echo =>
        {
            var size = echo.Payload.Length + headers;
            lock (seen)
            {
                return size > mtu || (lost.Contains(size) && seen.Add(size)) ? [] : [FakeTransport.Reply(echo, Rtt)];
            }
        };
    }

    [Fact]
    public async Task APathThatCarriesTheRouteMtuIsFoundAtTheFirstProbe()
    {
        var (result, _) = await Discover(echo => [FakeTransport.Reply(echo, Rtt)]);

        Assert.Equal((IcmpStatus.Success, 1500, 1472, PathMtuMethod.Route), (result.Status, result.Mtu, result.PayloadBytes, result.Method));
        // The route's size and the floor's, together.
        Assert.Equal(2, result.Probes);
        Assert.Empty(result.Reports);
    }

    [Fact]
    public async Task ANamedMtuIsJumpedToStraightAway()
    {
        var (result, fake) = await Discover(echo => SizeOf(echo) > 1400 ? [FragNeeded(echo, Router2, 1400)] : [FakeTransport.Reply(echo, Rtt)]);

        Assert.Equal((IcmpStatus.Success, 1400, PathMtuMethod.Reported), (result.Status, result.Mtu, result.Method));
        Assert.Equal(3, result.Probes);
        Assert.Equal([new PathMtuReport("198.51.100.2", 1400)], result.Reports);
        Assert.Equal([1500, 576, 1400], fake.Sent.Select(SizeOf));
        Assert.Equal("198.51.100.2=1400", result.Reports.ToString());
    }

    [Fact]
    public async Task TwoNarrowLinksAreJumpedOneAfterTheOther()
    {
        var (result, _) = await Discover(echo => SizeOf(echo) switch
        {
            > 1400 => [FragNeeded(echo, Router2, 1400)],
            > 1280 => [FragNeeded(echo, Router3, 1280)],
            _ => [FakeTransport.Reply(echo, Rtt)],
        });

        Assert.Equal((1280, PathMtuMethod.Reported, 4), (result.Mtu, result.Method, result.Probes));
        Assert.Equal("198.51.100.2=1400 198.51.100.3=1280", result.Reports.ToString());
    }

    [Theory]
    [InlineData(1400)]
    [InlineData(1433)]
    [InlineData(600)]
    public async Task ABlackHoleIsSearchedToTheExactSizeInAFewShortRounds(int mtu)
    {
        var (result, _) = await Discover(echo => SizeOf(echo) > mtu ? [] : [FakeTransport.Reply(echo, Rtt)]);

        Assert.Equal((IcmpStatus.Success, mtu, PathMtuMethod.Search), (result.Status, result.Mtu, result.Method));
        // One probe a round: the plateaus by bisection, then bytes; a size off the plateaus costs about log2 of the gap more.
        Assert.InRange(result.Probes, 4, 20);
        // A silent probe is given up half a second after it left (the path answers within 2 ms), an answered one at once:
        // far less than a 2 s timeout per size, as Test-Connection waits.
        Assert.InRange(result.ElapsedMilliseconds, 0, 500 * (result.Probes - 1) + 100);
    }

    [Fact]
    public async Task ABlackHoleAtAPlateauCostsSixProbes()
    {
        var (result, fake) = await Discover(BlackHole(1400));

        Assert.Equal((IcmpStatus.Success, 1400, PathMtuMethod.Search), (result.Status, result.Mtu, result.Method));
        // The route's size and the floor's; the floor's next size; the plateau the bisection picks first; then the size
        // above it, silent twice in rounds of their own before it counts as too big.
        Assert.Equal([1500, 576, 577, 1400, 1401, 1401], fake.Sent.Select(SizeOf));
        Assert.Equal(6, result.Probes);
        // Three silent rounds, each given up half a second after it was sent (the path answers within 2 ms).
        Assert.InRange(result.ElapsedMilliseconds, 1500, 1600);
    }

    [Fact]
    public async Task AnIPv6BlackHoleAtTheMinimumMtuCostsFourProbes()
    {
        var (result, fake) = await Discover(BlackHole(1280, headers: 48), target: IPAddress.Parse("2001:db8::9"));

        Assert.Equal((IcmpStatus.Success, 1280, PathMtuMethod.Search), (result.Status, result.Mtu, result.Method));
        Assert.Equal([1500, 1280, 1281, 1281], fake.Sent.Select(echo => echo.Payload.Length + 48));
    }

    [Theory]
    [InlineData(1400)]
    [InlineData(1401)]
    [InlineData(577)]
    public async Task OneLostProbeAtTheMtuDoesNotLowerIt(int lostSize)
    {
        // The first probe of this size vanishes as a too-big one would: only a second silence may make it the limit.
        var (result, _) = await Discover(BlackHole(1400, lost: lostSize));

        Assert.Equal((IcmpStatus.Success, 1400), (result.Status, result.Mtu));
    }

    [Fact]
    public async Task LostProbesAllAlongTheSearchStillFindTheMtu()
    {
        var (result, _) = await Discover(BlackHole(1400, lost: [577, 1400, 1380, 1390, 1395, 1398, 1399]));

        Assert.Equal((IcmpStatus.Success, 1400), (result.Status, result.Mtu));
    }

    [Fact]
    public async Task ALostProbeAtTheNamedMtuIsTriedAgainBeforeAnySearch()
    {
        var named = 0;
        var (result, fake) = await Discover(echo => SizeOf(echo) switch
        {
            > 1400 => [FragNeeded(echo, Router2, 1400)],
            1400 when Interlocked.Increment(ref named) == 1 => [],
            _ => [FakeTransport.Reply(echo, Rtt)],
        });

        Assert.Equal((IcmpStatus.Success, 1400, PathMtuMethod.Reported), (result.Status, result.Mtu, result.Method));
        Assert.Equal([1500, 576, 1400, 1400], fake.Sent.Select(SizeOf));
    }

    [Fact]
    public async Task ALostFloorProbeBesideANamedMtuIsNotASilentTarget()
    {
        var floors = 0;
        var (result, _) = await Discover(echo => SizeOf(echo) switch
        {
            > 1400 => [FragNeeded(echo, Router2, 1400)],
            576 when Interlocked.Increment(ref floors) == 1 => [],
            _ => [FakeTransport.Reply(echo, Rtt)],
        });

        Assert.Equal((IcmpStatus.Success, 1400, PathMtuMethod.Reported), (result.Status, result.Mtu, result.Method));
    }

    [Fact]
    public async Task ARouterThatNamesAnMtuAboveTheProbeDoesNotStallTheSearch()
    {
        var (result, _) = await Discover(echo => SizeOf(echo) > 1300 ? [FragNeeded(echo, Router2, 1500)] : [FakeTransport.Reply(echo, Rtt)]);

        Assert.Equal((IcmpStatus.Success, 1300), (result.Status, result.Mtu));
    }

    [Fact]
    public async Task ASilentTargetHasNoMtu()
    {
        var (result, _) = await Discover(_ => []);

        Assert.Equal(IcmpStatus.TimedOut, result.Status);
        Assert.Null(result.Mtu);
        Assert.Null(result.PayloadBytes);
        Assert.Null(result.Method);
        Assert.Equal(2, result.Probes);
    }

    [Fact]
    public async Task AnUnreachableTargetSaysSo()
    {
        var (result, _) = await Discover(echo => [FakeTransport.Error(echo, Rtt, Router2, IcmpTypes.V4DestinationUnreachable, 1)]);

        Assert.Equal(IcmpStatus.DestinationUnreachable, result.Status);
        Assert.Null(result.Mtu);
    }

    [Fact]
    public async Task MaxMtuStartsHigherAndThePlateausFindTheLinksSize()
    {
        var (result, _) = await Discover(echo => SizeOf(echo) > 1500 ? [] : [FakeTransport.Reply(echo, Rtt)], new PathMtuOptions { MaxMtu = 9000 });

        Assert.Equal((1500, PathMtuMethod.Search), (result.Mtu, result.Method));
    }
}
