using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Packets;

public sealed class IpKeyTests
{
    [Fact]
    public void IPv4IsKeptInItsMappedIPv6Form()
    {
        Assert.Equal(new IpKey(0, 0x0000_FFFF_C000_0201), Wire.Key("192.0.2.1"));
        Assert.Equal(Wire.Key("192.0.2.1"), IpKey.FromV4([192, 0, 2, 1]));
        Assert.Equal(Wire.Key("192.0.2.1"), Wire.Key("::ffff:192.0.2.1"));
    }

    [Fact]
    public void IPv6IsItsTwoHalvesBigEndian()
    {
        Assert.Equal(new IpKey(0x2001_0db8_0012_0000, 0x0000_0000_0000_0007), Wire.Key("2001:db8:12::7"));
    }

    [Fact]
    public void AnIPv4AddressNeverCollidesWithAnIPv6One()
    {
        // The deprecated IPv4-compatible form differs from the mapped one only in the 0xFFFF marker.
        Assert.NotEqual(Wire.Key("192.0.2.1"), Wire.Key("::192.0.2.1"));
        Assert.NotEqual(Wire.Key("0.0.0.0"), Wire.Key("::"));
    }

    [Theory]
    [InlineData("192.0.2.1", IcmpFamily.IPv4)]
    [InlineData("255.255.255.255", IcmpFamily.IPv4)]
    [InlineData("2001:db8:12::7", IcmpFamily.IPv6)]
    [InlineData("fe80::1", IcmpFamily.IPv6)]
    public void TurnsBackIntoTheSameAddress(string address, IcmpFamily family)
    {
        Assert.Equal(IPAddress.Parse(address), Wire.Key(address).ToAddress(family));
    }
}
