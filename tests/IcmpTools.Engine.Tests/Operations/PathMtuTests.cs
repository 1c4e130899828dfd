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

    private static async Task<(PathMtuResult Result, FakeTransport Fake)> Discover(Func<SentEcho, IEnumerable<Delivery>> network, PathMtuOptions? options = null)
    {
        var fake = new FakeTransport(network);
        using var prober = new Prober(fake, fake.Clock);
        var result = await VirtualTime.Run(fake.Clock, PathMtu.DiscoverAsync(prober, Target, options ?? new PathMtuOptions()), TimeSpan.FromMilliseconds(5));
        return (result, fake);
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
        Assert.InRange(result.Probes, 3, 2 + 19 + (3 * 16));
        // Every round is cut short by the answers of its smaller sizes: far less than one 2 s timeout per round.
        Assert.InRange(result.ElapsedMilliseconds, 0, 2000);
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
