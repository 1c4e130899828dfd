using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>Ping across the lab's routers (tests/netlab): real sockets in the client namespace.</summary>
[Collection(LabGroup.Name)]
public sealed class PingLabTests(LabFixture fixture)
{
    private Host PingFromClient(string target, PingOptions options) => fixture.Lab.InClient(() =>
    {
        var address = IPAddress.Parse(target);
        using var lease = ProberPool.Acquire(TargetResolver.FamilyOf(address));
        return Ping.PingAsync(lease.Prober, address, null, options).GetAwaiter().GetResult();
    });

    private static readonly PingOptions Quick = new() { Count = 10, Interval = TimeSpan.FromMilliseconds(20), Timeout = TimeSpan.FromSeconds(1) };

    [SkippableTheory]
    [InlineData("198.18.4.2", "198.18.10.1")]
    [InlineData("2001:db8:4::2", "2001:db8:10::1")]
    public void ALinkDelayedBy10MsAddsTenMillisecondsOfRtt(string plain, string delayed)
    {
        // Both at once, interleaved on one prober, so a loaded machine slows the two alike: the undelayed
        // path of this very run is the yardstick, not a fixed number of milliseconds.
        var (direct, slow) = fixture.Lab.InClient(() =>
        {
            var family = TargetResolver.FamilyOf(IPAddress.Parse(plain));
            using var lease = ProberPool.Acquire(family);
            var both = Task.WhenAll(
                Ping.PingAsync(lease.Prober, IPAddress.Parse(plain), null, Quick),
                Ping.PingAsync(lease.Prober, IPAddress.Parse(delayed), null, Quick));
            var hosts = both.GetAwaiter().GetResult();
            return (hosts[0], hosts[1]);
        });

        Assert.Equal(10, direct.PacketsReceived);
        Assert.Equal(10, slow.PacketsReceived);
        Assert.All(direct.Rtts, rtt => Assert.True(rtt > 0, $"rtt {rtt} ms is not a measurement"));
        // The lower bound is what netem guarantees: no answer across the delayed link can come back sooner.
        Assert.All(slow.Rtts, rtt => Assert.True(rtt >= 10, $"rtt {rtt} ms is under the 10 ms delay"));
        // The upper bound holds whatever the load, being measured in the same run: the delayed path (netem adds
        // a little to its 10 ms, and the path differs) is slower than the undelayed one by one delay, not two, so
        // its fastest probe stays under the slowest undelayed probe sent beside it plus twice the delay. An RTT
        // that counted the delay twice would not.
        Assert.True(slow.MinRtt < direct.MaxRtt + (2 * 10),
            $"the fastest delayed rtt {slow.MinRtt} ms is two delays or more above the slowest undelayed one, {direct.MaxRtt} ms");
    }

    [SkippableTheory]
    [InlineData("198.18.11.1")]
    [InlineData("2001:db8:11::1")]
    public void ThirtyPercentLossIsReportedAsSuch(string target)
    {
        var host = PingFromClient(target, new PingOptions { Count = 300, Interval = TimeSpan.FromMilliseconds(2), Timeout = TimeSpan.FromSeconds(0.5) });

        Assert.Equal(300, host.PacketsSent);
        // 300 draws at p = 0.3: the standard deviation is 2.6 points, so 18..42 % is over four of them.
        Assert.InRange(host.PacketLoss, 0.18, 0.42);
        Assert.Equal(host.PacketsSent - host.PacketsReceived, (int)Math.Round(host.PacketLoss * host.PacketsSent));
        Assert.True(host.IsAlive);
    }

    [SkippableTheory]
    [InlineData("198.18.12.7", "198.18.2.2")]
    [InlineData("2001:db8:12::7", "2001:db8:2::2")]
    public void AnUnreachableTargetIsReportedByTheRouterThatSaidSo(string target, string router)
    {
        var host = PingFromClient(target, new PingOptions { Count = 2, Interval = TimeSpan.FromMilliseconds(50), Timeout = TimeSpan.FromSeconds(1) });

        Assert.False(host.IsAlive);
        Assert.Equal(IcmpStatus.DestinationUnreachable, host.Status);
        Assert.Equal(router, host.StatusSource);
    }

    [SkippableTheory]
    [InlineData("198.18.13.7")]
    [InlineData("2001:db8:13::7")]
    public void ABlackholedTargetTimesOut(string target)
    {
        var host = PingFromClient(target, new PingOptions { Count = 2, Interval = TimeSpan.FromMilliseconds(50), Timeout = TimeSpan.FromSeconds(0.3) });

        Assert.False(host.IsAlive);
        Assert.Equal(IcmpStatus.TimedOut, host.Status);
        Assert.Null(host.StatusSource);
    }

    [SkippableTheory]
    [InlineData("198.18.4.2", 1, "198.18.1.1")]
    [InlineData("198.18.4.2", 2, "198.18.2.2")]
    [InlineData("2001:db8:4::2", 2, "2001:db8:2::2")]
    [InlineData("2001:db8:4::2", 3, "2001:db8:3::2")]
    public void ASmallTtlEndsAtTheRouterWhereItExpired(string target, int ttl, string router)
    {
        var host = PingFromClient(target, Quick with { Count = 2, Ttl = ttl, TrafficClass = 0x20 });

        Assert.False(host.IsAlive);
        Assert.Equal(IcmpStatus.TimeExceeded, host.Status);
        Assert.Equal(router, host.StatusSource);
    }

    [SkippableFact]
    public void RepliesCarryTheTtlLeftAfterThreeRouters()
    {
        var replies = fixture.Lab.InClient(() =>
        {
            using var lease = ProberPool.Acquire(IcmpFamily.IPv4);
            return Ping.StreamAsync(lease.Prober, IPAddress.Parse("198.18.4.2"), Quick with { Count = 1 }).ToBlockingEnumerable().ToList();
        });

        var reply = Assert.Single(replies);
        Assert.Equal(IcmpStatus.Success, reply.Status);
        Assert.Equal(61, reply.Ttl);
    }
}
