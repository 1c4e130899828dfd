using IcmpTools.Engine.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Packets;

public sealed class ProbeCookieTests
{
    [Fact]
    public void IsSessionThenSerialBigEndianAndReadsBack()
    {
        var bytes = new byte[8];
        new ProbeCookie(0x0A0B0C0D, 0x01020304).WriteTo(bytes);

        Assert.Equal(new byte[] { 0x0A, 0x0B, 0x0C, 0x0D, 0x01, 0x02, 0x03, 0x04 }, bytes);
        Assert.True(ProbeCookie.TryRead(bytes, out var read));
        Assert.Equal(new ProbeCookie(0x0A0B0C0D, 0x01020304), read);
    }

    [Fact]
    public void IsCutToAShortDestinationAndLeavesALongOnePastItsEightBytesAlone()
    {
        var shortDestination = new byte[3];
        var longDestination = new byte[10];
        longDestination.AsSpan().Fill(0xEE);

        new ProbeCookie(0x0A0B0C0D, 0x01020304).WriteTo(shortDestination);
        new ProbeCookie(0x0A0B0C0D, 0x01020304).WriteTo(longDestination);

        Assert.Equal(new byte[] { 0x0A, 0x0B, 0x0C }, shortDestination);
        Assert.Equal(new byte[] { 0xEE, 0xEE }, longDestination[8..]);
    }

    [Fact]
    public void FewerThanEightBytesAreNotACookie()
    {
        Assert.False(ProbeCookie.TryRead(new byte[7], out var cookie));
        Assert.Equal(default, cookie);
    }
}
