using IcmpTools.Engine.Models;
using IcmpTools.Views;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>The live table's text: mtr's columns, within the window's width, one table per target.</summary>
public sealed class TraceLiveViewTests
{
    private static Hop Hop(int distance, string? address, IcmpStatus status, int? code = null, params double[] rtts) =>
        new("198.18.4.2", address?.Contains(':', StringComparison.Ordinal) == true ? IcmpFamily.IPv6 : IcmpFamily.IPv4, distance,
            address is null ? [] : [address], null, rtts, 3, status, code, null, null, false, 0, []);

    private static List<string> Render(int width, params Hop[] hops) =>
        TraceLiveView.Render(hops.GroupBy(h => h.Target), width, "q or Ctrl+C: stop");

    [Theory]
    [InlineData(80)]
    [InlineData(120)]
    [InlineData(200)]
    public void EveryLineFitsTheWindowAndTheHeaderHasMtrsColumns(int width)
    {
        var lines = Render(width,
            Hop(1, "198.18.1.1", IcmpStatus.TimeExceeded, 0, 0.1, 0.3, 0.2),
            Hop(2, null, IcmpStatus.TimedOut),
            Hop(3, "2001:db8:3333:4444:5555:6666:7777:8888", IcmpStatus.TimeExceeded, 0, 12.5),
            Hop(4, "198.18.4.2", IcmpStatus.Success, 0, 0.4, 0.4, 0.4));

        Assert.All(lines, l => Assert.True(l.Length < width, $"{l.Length} >= {width}: {l}"));
        Assert.Matches(@"Hop\s+Address\s+Loss%\s+Sent\s+Last\s+Avg\s+Best\s+Worst\s+StDev$", lines[1]);
        Assert.Matches(@"^\s+1  198\.18\.1\.1\s+0\.0%\s+3\s+0\.20\s+0\.20\s+0\.10\s+0\.30\s+0\.08$", lines[2]);
        // A silent hop: mtr's ??? and no numbers.
        Assert.Matches(@"^\s+2  \?\?\?\s+100\.0%\s+3\s*$", lines[3]);
        Assert.StartsWith("Trace to 198.18.4.2", lines[0], StringComparison.Ordinal);
        Assert.Equal("q or Ctrl+C: stop", lines[^1]);
    }

    [Fact]
    public void ANarrowWindowCutsTheAddressNotTheNumbers()
    {
        var lines = Render(80, Hop(1, "2001:db8:3333:4444:5555:6666:7777:8888", IcmpStatus.TimeExceeded, 0, 1.5));

        Assert.Contains("…", lines[2], StringComparison.Ordinal);
        // Last, Avg, Best and Worst 1.50, StDev 0.00: every number whole.
        Assert.Matches(@"(\s+1\.50){4}\s+0\.00$", lines[2]);
    }

    [Fact]
    public void ARefusingRouterShowsItsMarkBesideTheAddress()
    {
        var lines = Render(100, Hop(2, "198.18.2.2", IcmpStatus.DestinationUnreachable, 13, 0.2));

        Assert.Contains("198.18.2.2 !X", lines[2], StringComparison.Ordinal);
    }
}
