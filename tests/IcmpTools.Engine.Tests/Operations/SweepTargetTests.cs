using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using Xunit;

namespace IcmpTools.Engine.Tests.Operations;

public sealed class SweepTargetTests
{
    [Theory]
    [InlineData("fe80::1%to-r1")]
    [InlineData("fe80::1%br-lan-2")]
    public void AZoneWithAHyphenatedInterfaceNameIsOneAddressNotARange(string text)
    {
        var target = SweepTarget.Parse(text);

        Assert.Null(target.Name);
        Assert.Equal(UInt128.One, target.Count);
        Assert.Equal("fe80::1", target.Addresses().Single().ToString().Split('%')[0]);
    }

    [Theory]
    [InlineData("198.18.0.0/24", IcmpFamily.IPv4)]
    [InlineData("198.18.0.1-198.18.0.9", IcmpFamily.IPv4)]
    [InlineData("2001:db8::/120", IcmpFamily.IPv6)]
    [InlineData("router-1", null)]
    public void ATargetKnowsItsFamilyBeforeItIsExpanded(string text, IcmpFamily? family)
    {
        Assert.Equal(family, SweepTarget.Parse(text).Family);
    }

    [Fact]
    public void AnIPv4BlockSkipsNetworkAndBroadcastLikeFping()
    {
        var target = SweepTarget.Parse("198.18.0.0/30");
        Assert.Equal(["198.18.0.1", "198.18.0.2"], target.Addresses().Select(a => a.ToString()));
    }

    [Fact]
    public void NetworkAndBroadcastAreKeptWhenAsked()
    {
        var target = SweepTarget.Parse("198.18.0.0/30", includeNetworkAndBroadcast: true);
        Assert.Equal(4, target.Addresses().Count());
    }

    [Fact]
    public void HostBitsInTheBaseAreIgnoredAndSlash32IsOneAddress()
    {
        Assert.Equal("198.18.1.1", SweepTarget.Parse("198.18.1.77/24").Addresses().First().ToString());
        Assert.Equal(["198.18.1.77"], SweepTarget.Parse("198.18.1.77/32").Addresses().Select(a => a.ToString()));
        Assert.Equal(2, SweepTarget.Parse("198.18.1.76/31").Addresses().Count());
    }

    [Fact]
    public void ASlash16IsExpandedLazily()
    {
        var target = SweepTarget.Parse("198.19.0.0/16");
        Assert.Equal((UInt128)65_534, target.Count);
        // Taking the first three must not walk the block.
        Assert.Equal(["198.19.0.1", "198.19.0.2", "198.19.0.3"], target.Addresses().Take(3).Select(a => a.ToString()));
        Assert.Equal("198.19.255.254", target.Addresses().Last().ToString());
    }

    [Fact]
    public void IPv6BlocksIncludeEveryAddress()
    {
        var addresses = SweepTarget.Parse("2001:db8::/126").Addresses().Select(a => a.ToString()).ToArray();
        Assert.Equal(["2001:db8::", "2001:db8::1", "2001:db8::2", "2001:db8::3"], addresses);
    }

    [Fact]
    public void ARangeIsInclusive()
    {
        var target = SweepTarget.Parse("198.18.0.10-198.18.0.12");
        Assert.Equal(["198.18.0.10", "198.18.0.11", "198.18.0.12"], target.Addresses().Select(a => a.ToString()));
    }

    [Fact]
    public void NamesAndAddressesAreSingleTargets()
    {
        Assert.Equal("my-host.example", SweepTarget.Parse("my-host.example").Name);
        Assert.Null(SweepTarget.Parse("::1").Name);
        Assert.Equal("::1", SweepTarget.Parse("::1").Addresses().Single().ToString());
    }

    [Theory]
    [InlineData("198.18.0.0/33", InvalidTargetReason.Malformed)]
    [InlineData("198.18.0/24", InvalidTargetReason.Malformed)]
    [InlineData("nonsense/8", InvalidTargetReason.Malformed)]
    [InlineData("198.18.0.1-banana", InvalidTargetReason.Malformed)]
    [InlineData("bad host!", InvalidTargetReason.Malformed)]
    [InlineData("198.18.0.99-198.18.0.10", InvalidTargetReason.ReversedRange)]
    [InlineData("0.0.0.0/0", InvalidTargetReason.TooLarge)]
    [InlineData("2001:db8::/64", InvalidTargetReason.TooLarge)]
    public void BadTargetsSayWhyAndNameThemselves(string text, InvalidTargetReason reason)
    {
        var e = Assert.Throws<InvalidTargetException>(() => SweepTarget.Parse(text));
        Assert.Equal(reason, e.Reason);
        Assert.Contains(text, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AHugeBlockIsAllowedWithConfirmation()
    {
        var target = SweepTarget.Parse("0.0.0.0/0", allowHuge: true);
        Assert.Equal((UInt128)((1L << 32) - 2), target.Count);
    }
}
