using IcmpTools.Engine.Models;
using Xunit;

namespace IcmpTools.Engine.Tests.Models;

/// <summary>Host (a ping's summary) and Hop (a traceroute distance) show the same statistics of the same RTTs.</summary>
public sealed class RttStatisticsTests
{
    public static TheoryData<double[]> Series => new()
    {
        Array.Empty<double>(),
        new[] { 5.0 },
        new[] { 10.0, 14, 12, 20 },
        new[] { 0.051, 0.047, 0.062, 0.049 },
        new[] { 1250.5, 2000, 0.004 },
    };

    private static Hop HopOf(double[] rtts) => new("192.0.2.9", IcmpFamily.IPv4, 3, rtts.Length == 0 ? [] : ["192.0.2.3"], null, rtts,
        Math.Max(1, rtts.Length), rtts.Length == 0 ? IcmpStatus.TimedOut : IcmpStatus.TimeExceeded, null, null, null, false, 0, []);

    private static Host HostOf(double[] rtts) => new("192.0.2.9", null, IcmpFamily.IPv4, Math.Max(1, rtts.Length), rtts, 0,
        rtts.Length == 0 ? IcmpStatus.TimedOut : IcmpStatus.Success, null);

    [Theory]
    [MemberData(nameof(Series))]
    public void HopAndHostAgreeOnEveryStatistic(double[] rtts)
    {
        var host = HostOf(rtts);
        var hop = HopOf(rtts);

        Assert.Equal(host.PacketsReceived, hop.PacketsReceived);
        Assert.Equal(host.MinRtt, hop.MinRtt);
        Assert.Equal(host.MaxRtt, hop.MaxRtt);
        Assert.Equal(host.AvgRtt, hop.AvgRtt);
        Assert.Equal(host.StdDev, hop.StdDev);
        Assert.Equal(host.Jitter, hop.Jitter);
    }

    [Fact]
    public void OneRttHasNoJitterOnAHopEither()
    {
        // A single answer has no pair to differ: null, as on Host, not 0 (a perfectly steady link).
        var hop = HopOf([5]);

        Assert.Null(hop.Jitter);
        Assert.Equal(0, hop.StdDev);
        Assert.Equal(5, hop.AvgRtt);
    }

    [Fact]
    public void TheStatisticsAreWhatPingAndIcmplibPrint()
    {
        var host = HostOf([10, 14, 12, 20]);

        // Population standard deviation (ping's mdev): sqrt((16 + 0 + 4 + 36) / 4); icmplib's jitter: (4 + 2 + 8) / 3.
        Assert.Equal(Math.Sqrt(14), host.StdDev!.Value, 12);
        Assert.Equal(14.0 / 3, host.Jitter!.Value, 12);
        Assert.Equal(14, host.AvgRtt!.Value, 12);
    }
}
