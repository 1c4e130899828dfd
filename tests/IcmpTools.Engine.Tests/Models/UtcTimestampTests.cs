using System.Globalization;
using IcmpTools.Engine.Models;
using Xunit;

namespace IcmpTools.Engine.Tests.Models;

public sealed class UtcTimestampTests
{
    private static readonly DateTime Utc = new(2026, 12, 7, 15, 50, 30, DateTimeKind.Utc);

    [Theory]
    [InlineData("de-DE")]
    [InlineData("en-US")]
    [InlineData("ar-SA")]
    public void TextIsIso8601UtcWithMillisecondsInEveryCulture(string culture)
    {
        var time = new UtcTimestamp(Utc.AddTicks(1_234_567));
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo(culture);

            Assert.Equal("2026-12-07T15:50:30.123Z", time.ToString());
            // PowerShell's string conversion ("$t", [string]$t) passes no format.
            Assert.Equal("2026-12-07T15:50:30.123Z", ((IFormattable)time).ToString(null, CultureInfo.CurrentCulture));
            Assert.Equal("2026-12-07T15:50:30.123Z", string.Format(CultureInfo.CurrentCulture, "{0}", time));
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    [Fact]
    public void AFormatIsTheDateTimesOwn()
    {
        var time = new UtcTimestamp(Utc.AddTicks(1_234_567));

        Assert.Equal("15:50:30.1234", time.ToString("HH:mm:ss.ffff", CultureInfo.InvariantCulture));
        Assert.Equal("2026-12-07T15:50:30.1234567Z", time.ToString("o", CultureInfo.InvariantCulture));
    }

    [Fact]
    public void AnOffsetOrALocalTimeIsTakenAsTheInstantItNames()
    {
        var fromOffset = new UtcTimestamp(new DateTimeOffset(2026, 12, 7, 21, 20, 30, TimeSpan.FromHours(5.5)));
        var fromLocal = new UtcTimestamp(Utc.ToLocalTime());

        Assert.Equal(Utc, fromOffset.UtcDateTime);
        Assert.Equal(DateTimeKind.Utc, fromOffset.UtcDateTime.Kind);
        Assert.Equal(Utc, fromLocal.UtcDateTime);
        Assert.Equal(DateTimeKind.Utc, fromLocal.UtcDateTime.Kind);
        // The init accessor (Import-Clixml's rebuild) normalises the same way.
        Assert.Equal(Utc, new UtcTimestamp { UtcDateTime = Utc.ToLocalTime() }.UtcDateTime);
    }

    // PowerShell's -lt, -gt and Sort-Object go through the non-generic IComparable with whatever the other side is.
    private static int Compare(UtcTimestamp time, object? other) => ((IComparable)time).CompareTo(other);

    [Fact]
    public void ComparesWithDateTimesAndOffsetsByInstant()
    {
        var time = new UtcTimestamp(Utc);

        Assert.Equal(0, Compare(time, new DateTimeOffset(Utc).ToOffset(TimeSpan.FromHours(-8))));
        Assert.True(Compare(time, Utc.AddMilliseconds(1)) < 0);
        Assert.True(Compare(time, Utc.AddMilliseconds(-1).ToLocalTime()) > 0);
        Assert.True(Compare(time, null) > 0);
        Assert.Throws<ArgumentException>(() => Compare(time, "2026-12-07"));
        Assert.True(time < new UtcTimestamp(Utc.AddTicks(1)));
        Assert.Equal(time, new UtcTimestamp(new DateTimeOffset(Utc)));
        Assert.Equal(TimeSpan.FromSeconds(2), new UtcTimestamp(Utc.AddSeconds(2)) - time);
        Assert.Equal(Utc.AddSeconds(2), (time + TimeSpan.FromSeconds(2)).UtcDateTime);
        // Local, as PowerShell's [datetime] of a 'Z' time is: DateTime compares ticks whatever its Kind, and Get-Date is local.
        Assert.Equal(DateTimeKind.Local, ((DateTime)time).Kind);
        Assert.Equal(Utc, ((DateTime)time).ToUniversalTime());
        Assert.Equal(0, ((DateTime)time).CompareTo(Utc.ToLocalTime()));
        Assert.Equal(TimeSpan.Zero, ((DateTimeOffset)time).Offset);
    }
}
