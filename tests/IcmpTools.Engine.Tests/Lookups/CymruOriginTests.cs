using System.Net;
using IcmpTools.Engine.Lookups;
using Xunit;

namespace IcmpTools.Engine.Tests.Lookups;

/// <summary>Team Cymru's origin names and answers, as mtr -z and Trippy ask and read them.</summary>
public sealed class CymruOriginTests
{
    [Theory]
    [InlineData("198.18.2.2", "2.2.18.198.origin.asn.cymru.com")]
    [InlineData("10.0.0.255", "255.0.0.10.origin.asn.cymru.com")]
    [InlineData("::ffff:198.18.4.2", "2.4.18.198.origin.asn.cymru.com")]
    [InlineData("2001:db8:4::2", "2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.4.0.0.0.8.b.d.0.1.0.0.2.origin6.asn.cymru.com")]
    [InlineData("2001:db8:abcd:ef01::", "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.1.0.f.e.d.c.b.a.8.b.d.0.1.0.0.2.origin6.asn.cymru.com")]
    public void TheNameReversesOctetsForIPv4AndNibblesForIPv6(string address, string expected) =>
        Assert.Equal(expected, CymruOrigin.ReverseName(IPAddress.Parse(address)));

    [Fact]
    public void AnIPv6NameHasAllThirtyTwoNibbles() =>
        Assert.Equal(32, CymruOrigin.ReverseName(IPAddress.Parse("2001:db8::1")).Split('.').Length - 4);

    [Fact]
    public void ARecordGivesItsAsPrefixCountryRegistryAndDate()
    {
        var info = CymruOrigin.Parse(["64500 | 198.18.0.0/15 | ZZ | arin | 2001-01-01"]);

        Assert.NotNull(info);
        Assert.Equal(64500, info.Asn);
        Assert.Equal("198.18.0.0/15", info.Prefix);
        Assert.Equal("ZZ", info.Country);
        Assert.Equal("arin", info.Registry);
        Assert.Equal("2001-01-01", info.Allocated);
    }

    [Fact]
    public void EmptyTrailingFieldsAndAFourByteAsParse()
    {
        var info = CymruOrigin.Parse(["401308 | 2001:db8::/32 |  |  "]);

        Assert.NotNull(info);
        Assert.Equal(401308, info.Asn);
        Assert.Equal("2001:db8::/32", info.Prefix);
        Assert.Equal("", info.Country);
        Assert.Equal("", info.Registry);
        Assert.Equal("", info.Allocated);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("64500")]
    [InlineData("AS64500 | 198.18.0.0/15 | ZZ | arin | 2001-01-01")]
    [InlineData("64500 | not-a-prefix | ZZ | arin | 2001-01-01")]
    [InlineData("0 | 198.18.0.0/15 | ZZ | arin | 2001-01-01")]
    [InlineData("-5 | 198.18.0.0/15 | ZZ | arin | 2001-01-01")]
    [InlineData("99999999999 | 198.18.0.0/15 | ZZ | arin | 2001-01-01")]
    [InlineData("4294967296 | 198.18.0.0/15 | ZZ | arin | 2001-01-01")]
    [InlineData(" | 198.18.0.0/15 | ZZ | arin | 2001-01-01")]
    public void AMalformedRecordGivesNothing(string record) => Assert.Null(CymruOrigin.Parse([record]));

    [Theory]
    [InlineData(4200000000L)]
    [InlineData(4294967295L)]
    [InlineData(2147483648L)]
    public void A32BitAsNumberAboveIntMaxIsRead(long asn)
    {
        // The private-use block (RFC 6996) and the top of the 32-bit space: a company's own server may answer with them.
        var info = CymruOrigin.Parse([$"{asn} | 198.18.0.0/15 | ZZ | arin | 2001-01-01"]);

        Assert.Equal(asn, info?.Asn);
    }

    [Fact]
    public void AMalformedRecordIsSkippedAndAGoodOneBesideItIsRead()
    {
        var info = CymruOrigin.Parse(["garbage", "64501 | 198.18.1.0/24 | ZZ | arin | 2001-01-01"]);

        Assert.Equal(64501, info?.Asn);
    }

    [Fact]
    public void NoRecordsGiveNothing() => Assert.Null(CymruOrigin.Parse([]));

    [Fact]
    public void SeveralOriginsInOneRecordGiveTheLowest() =>
        Assert.Equal(64502, CymruOrigin.Parse(["64503 64502 64510 | 198.18.2.0/24 | ZZ | ripencc | 2002-02-02"])?.Asn);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void OfSeveralRecordsTheMostSpecificPrefixWinsInWhateverOrderTheyCome(int rotation)
    {
        string[] records = ["64510 | 198.18.0.0/15 | ZZ | arin | 2001-01-01", "64599 | 198.18.2.0/24 | ZZ | ripencc | 2002-02-02"];
        var info = CymruOrigin.Parse(records.Skip(rotation).Concat(records.Take(rotation)));

        Assert.Equal(64599, info?.Asn);
        Assert.Equal("198.18.2.0/24", info?.Prefix);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    public void TwoRecordsForOnePrefixGiveTheLowestAsInWhateverOrderTheyCome(int rotation)
    {
        string[] records = ["64520 | 198.18.2.0/24 | ZZ | arin | 2001-01-01", "64505 | 198.18.2.0/24 | ZZ | arin | 2001-01-01"];

        Assert.Equal(64505, CymruOrigin.Parse(records.Skip(rotation).Concat(records.Take(rotation)))?.Asn);
    }
}
