using IcmpTools.Engine.Models;
using Xunit;

namespace IcmpTools.Engine.Tests.Models;

public sealed class HostTests
{
    [Fact]
    public void StatisticsFollowIcmplibAndPing()
    {
        var host = new Host("198.18.4.2", null, IcmpFamily.IPv4, 5, [10, 14, 12, 20], 1, IcmpStatus.Success, null);

        Assert.Equal(4, host.PacketsReceived);
        Assert.Equal(0.2, host.PacketLoss, 10);
        Assert.Equal(10, host.MinRtt);
        Assert.Equal(20, host.MaxRtt);
        Assert.Equal(14, host.AvgRtt);
        // Population standard deviation (ping's mdev): sqrt(((-4)^2 + 0 + (-2)^2 + 6^2) / 4) = sqrt(14).
        Assert.Equal(Math.Sqrt(14), host.StdDev!.Value, 10);
        // icmplib's jitter: mean of |14-10|, |12-14|, |20-12| = 14 / 3.
        Assert.Equal(14.0 / 3, host.Jitter!.Value, 10);
        Assert.True(host.IsAlive);
        Assert.Equal(1, host.Duplicates);
    }

    [Fact]
    public void ADeadHostHasNoRttStatisticsRatherThanZeroes()
    {
        var host = new Host("198.18.13.1", "blackhole", IcmpFamily.IPv4, 3, [], 0, IcmpStatus.TimedOut, null);

        Assert.False(host.IsAlive);
        Assert.Equal(1, host.PacketLoss);
        Assert.Null(host.MinRtt);
        Assert.Null(host.AvgRtt);
        Assert.Null(host.MaxRtt);
        Assert.Null(host.StdDev);
        Assert.Null(host.Jitter);
        Assert.Equal("", host.Rtts.ToString());
    }

    [Fact]
    public void OneReplyHasASpreadOfZeroButNoJitter()
    {
        var host = new Host("::1", null, IcmpFamily.IPv6, 1, [0.25], 0, IcmpStatus.Success, null);

        Assert.Equal(0.25, host.AvgRtt);
        Assert.Equal(0, host.StdDev);
        Assert.Null(host.Jitter);
    }

    [Fact]
    public void TheRttTextIsSemicolonJoinedInTheInvariantCultureWhateverTheCurrentOne()
    {
        var before = System.Globalization.CultureInfo.CurrentCulture;
        System.Globalization.CultureInfo.CurrentCulture = new System.Globalization.CultureInfo("de-DE");
        try
        {
            var host = new Host("127.0.0.1", null, IcmpFamily.IPv4, 3, [0.051, 1.5, 12], 0, IcmpStatus.Success, null);

            Assert.Equal("0.051;1.5;12", host.Rtts.ToString());
            Assert.Equal([0.051, 1.5, 12], host.Rtts);
        }
        finally
        {
            System.Globalization.CultureInfo.CurrentCulture = before;
        }
    }

    [Fact]
    public void TheRttListCannotBeChangedThroughTheHost()
    {
        var rtts = new List<double> { 1, 2 };
        var host = new Host("::1", null, IcmpFamily.IPv6, 2, rtts, 0, IcmpStatus.Success, null);
        rtts.Add(3);

        Assert.Equal(2, host.Rtts.Count);
        Assert.False(((object)host.Rtts) is double[] or List<double>);
        Assert.Throws<NotSupportedException>(() => ((IList<double>)host.Rtts).Add(4));
    }
}
