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

    private static AsnInfo Origin(int asn) => new(asn, "198.18.0.0/15", "ZZ", "ripencc", "2002-02-02");

    private static List<string> Render(int width, params Hop[] hops) =>
        TraceLiveView.Render(hops.GroupBy(h => h.Target), width, "q or Ctrl+C: stop");

    [Theory]
    // At 80 columns the IPv6 address stays whole: Best, Worst and StDev make room for it.
    [InlineData(80, @"Last\s+Avg$", @"0\.20\s+0\.20$")]
    [InlineData(120, @"Last\s+Avg\s+Best\s+Worst\s+StDev$", @"0\.20\s+0\.20\s+0\.10\s+0\.30\s+0\.08$")]
    [InlineData(200, @"Last\s+Avg\s+Best\s+Worst\s+StDev$", @"0\.20\s+0\.20\s+0\.10\s+0\.30\s+0\.08$")]
    public void EveryLineFitsTheWindowAndTheHeaderHasMtrsColumns(int width, string headerEnd, string rowEnd)
    {
        var lines = Render(width,
            Hop(1, "198.18.1.1", IcmpStatus.TimeExceeded, 0, 0.1, 0.3, 0.2),
            Hop(2, null, IcmpStatus.TimedOut),
            Hop(3, "2001:db8:3333:4444:5555:6666:7777:8888", IcmpStatus.TimeExceeded, 0, 12.5),
            Hop(4, "198.18.4.2", IcmpStatus.Success, 0, 0.4, 0.4, 0.4));

        Assert.All(lines, l => Assert.True(l.Length < width, $"{l.Length} >= {width}: {l}"));
        Assert.Matches(@"^Hop\s+Address\s+Loss%\s+Sent\s+" + headerEnd, lines[1]);
        Assert.Matches(@"^\s+1  198\.18\.1\.1\s+0\.0%\s+3\s+" + rowEnd, lines[2]);
        Assert.Contains("2001:db8:3333:4444:5555:6666:7777:8888 ", lines[4], StringComparison.Ordinal);
        // A silent hop: mtr's ??? and no numbers.
        Assert.Matches(@"^\s+2  \?\?\?\s+100\.0%\s+3\s*$", lines[3]);
        Assert.StartsWith("Trace to 198.18.4.2", lines[0], StringComparison.Ordinal);
        Assert.Equal("q or Ctrl+C: stop", lines[^1]);
    }

    [Theory]
    // StDev, Worst and Best give way: the address whole, then Loss%, Sent, Last and Avg whole.
    [InlineData(80, @"Last\s+Avg$", @"2001:db8:3333:4444:5555:6666:7777:8888\s+0\.0%\s+3\s+1\.50\s+1\.50$")]
    // Too narrow for the address beside Loss%, Sent and Avg, which never give way: only then is it cut.
    [InlineData(60, @"Avg$", @"2001:db8:3333:4444:5555:6666:777…\s+0\.0%\s+3\s+1\.50$")]
    public void ANarrowWindowDropsTheLeastUsefulNumbersBeforeItCutsTheAddress(int width, string headerEnd, string rowEnd)
    {
        var lines = Render(width, Hop(1, "2001:db8:3333:4444:5555:6666:7777:8888", IcmpStatus.TimeExceeded, 0, 1.5, 1.5, 1.5));

        Assert.All(lines, l => Assert.True(l.Length < width, $"{l.Length} >= {width}: {l}"));
        Assert.Matches(@"^Hop\s+Address\s+Loss%\s+Sent\s+" + headerEnd, lines[1]);
        Assert.Matches(@"^\s+1  " + rowEnd, lines[2]);
    }

    [Fact]
    public void WithResolveAsnEachAddressHasItsAsBeforeItAsMtrZShowsIt()
    {
        var lines = TraceLiveView.Render(new[]
        {
            Hop(1, "198.18.1.1", IcmpStatus.TimeExceeded, 0, 0.2, 0.2, 0.2).WithAsn(Origin(64501)),
            Hop(2, null, IcmpStatus.TimedOut),
            Hop(3, "198.18.3.2", IcmpStatus.TimeExceeded, 0, 0.2, 0.2, 0.2),
            Hop(4, "198.18.4.2", IcmpStatus.Success, 0, 0.2, 0.2, 0.2).WithAsn(Origin(396982)),
        }.GroupBy(h => h.Target), 100, "q or Ctrl+C: stop", showAsn: true);

        Assert.All(lines, l => Assert.True(l.Length < 100, l));
        Assert.Matches(@"^Hop  Address\s+Loss%\s+Sent\s+Last\s+Avg\s+Best\s+Worst\s+StDev$", lines[1]);
        // The AS numbers padded to the widest, so the addresses line up; unknown is mtr's AS???; a silent hop has none.
        Assert.Matches(@"^\s+1  AS64501  198\.18\.1\.1\s+0\.0%", lines[2]);
        Assert.Matches(@"^\s+2           \?\?\?\s+100\.0%", lines[3]);
        Assert.Matches(@"^\s+3  AS\?\?\?    198\.18\.3\.2\s+0\.0%", lines[4]);
        Assert.Matches(@"^\s+4  AS396982 198\.18\.4\.2\s+0\.0%", lines[5]);
    }

    [Fact]
    public void WithoutResolveAsnNoAsIsShownEvenWhenTheHopsHaveOne()
    {
        var lines = Render(100, Hop(1, "198.18.1.1", IcmpStatus.TimeExceeded, 0, 0.2, 0.2, 0.2).WithAsn(Origin(64501)));

        Assert.Matches(@"^\s+1  198\.18\.1\.1\s+0\.0%", lines[2]);
        Assert.DoesNotContain("AS", string.Join('\n', lines.Skip(1)), StringComparison.Ordinal);
    }

    [Theory]
    // Room for all: name, address, the other responder, the mark.
    [InlineData(140, @"AS64502 router-two\.lab\.example \(198\.18\.2\.2\) \+1 !H")]
    // The name is cut first.
    [InlineData(95, @"AS64502 router-t… \(198\.18\.2\.2\) \+1 !H")]
    // Then it goes, and the other responder's +1 after it; the AS, the address and its mark stay.
    [InlineData(80, @"AS64502 198\.18\.2\.2 !H")]
    // Narrower than the AS and the address beside Loss%, Sent and Avg: the AS goes, the address and its mark stay.
    [InlineData(40, @"198\.18\.2\.2 !H")]
    public void TheLeastUsefulTextGivesWayFirstAndTheAddressStaysWhole(int width, string cell)
    {
        var hop = new Hop("198.18.4.2", IcmpFamily.IPv4, 2, ["198.18.2.2", "198.18.5.2"], "router-two.lab.example", [0.2], 1,
            IcmpStatus.DestinationUnreachable, 1, null, null, false, 0, []).WithAsn(Origin(64502));

        var lines = TraceLiveView.Render(new[] { hop }.GroupBy(h => h.Target), width, "q", showAsn: true);

        Assert.All(lines, l => Assert.True(l.Length < width, $"{l.Length} >= {width}: {l}"));
        Assert.Matches($@"^\s+2  {cell}\s+0\.0%", lines[2]);
    }

    [Fact]
    public void ARefusingRouterShowsItsMarkBesideTheAddress()
    {
        var lines = Render(100, Hop(2, "198.18.2.2", IcmpStatus.DestinationUnreachable, 13, 0.2));

        Assert.Contains("198.18.2.2 !X", lines[2], StringComparison.Ordinal);
    }
}
