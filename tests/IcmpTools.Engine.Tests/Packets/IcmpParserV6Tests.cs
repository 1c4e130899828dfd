using IcmpTools.Engine.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Packets;

public sealed class IcmpParserV6Tests
{
    private static readonly ProbeCookie Cookie = new(0xC0FFEE, 42);

    [Fact]
    public void AnEchoReplyParsesFromTheIcmpHeader()
    {
        var message = Wire.Echo(129, 77, 9, Cookie);

        Assert.True(IcmpParser.TryParseV6(message, out var r));

        Assert.Equal(IcmpKind.EchoReply, r.Kind);
        Assert.Equal(129, r.Type);
        Assert.Equal(-1, r.Ttl);
        Assert.Equal(77, r.Identifier);
        Assert.Equal(9, r.Sequence);
        Assert.Equal(Cookie, r.Cookie);
        Assert.Equal(64, r.IcmpLength);
        Assert.Equal(8, r.PayloadOffset);
        Assert.Equal(56, r.PayloadLength);
    }

    [Fact]
    public void AnEchoRequestIsRecognisedSoTheCallerCanIgnoreIt()
    {
        Assert.True(IcmpParser.TryParseV6(Wire.Echo(128, 77, 9, Cookie), out var r));
        Assert.Equal(IcmpKind.EchoRequest, r.Kind);
    }

    [Theory]
    [InlineData(1, 4, 0u, IcmpKind.DestinationUnreachable, 0, -1)]
    [InlineData(1, 0, 0u, IcmpKind.DestinationUnreachable, 0, -1)]
    [InlineData(2, 0, 1280u, IcmpKind.PacketTooBig, 1280, -1)]
    [InlineData(2, 0, 0xFFFF_FFFFu, IcmpKind.PacketTooBig, int.MaxValue, -1)]
    [InlineData(3, 0, 0u, IcmpKind.TimeExceeded, 0, -1)]
    [InlineData(4, 0, 40u, IcmpKind.ParameterProblem, 0, 40)]
    public void AnErrorQuotingOurProbeGivesItsDestinationIdSequenceAndCookie(byte type, byte code, uint rest, IcmpKind kind, int expectedMtu, int expectedPointer)
    {
        var quoted = Wire.QuotedProbeV6(Cookie, identifier: 300, sequence: 4);

        Assert.True(IcmpParser.TryParseV6(Wire.Error(type, code, quoted, rest), out var r));

        Assert.Equal(kind, r.Kind);
        Assert.Equal(code, r.Code);
        Assert.Equal(300, r.Identifier);
        Assert.Equal(4, r.Sequence);
        Assert.Equal(Cookie, r.Cookie);
        Assert.Equal(Wire.Key(Wire.Target6), r.QuotedDestination);
        Assert.Equal(expectedMtu, r.Mtu);
        Assert.Equal(expectedPointer, r.Pointer);
        Assert.Equal(8 + quoted.Length, r.IcmpLength);
        Assert.Equal(0, r.PayloadLength);
    }

    [Fact]
    public void AnErrorQuotingOnlyTheEchoHeaderHasIdAndSequenceButNoCookie()
    {
        var quoted = Wire.QuotedProbeV6(Cookie, identifier: 300, sequence: 4, keep: 48);

        Assert.True(IcmpParser.TryParseV6(Wire.Error(3, 0, quoted), out var r));

        Assert.False(r.HasCookie);
        Assert.Equal(300, r.Identifier);
        Assert.Equal(4, r.Sequence);
    }

    [Fact]
    public void RfcPaddingAfterAShortProbeIsNotReadAsItsCookie()
    {
        var quoted = new byte[128 + 12];
        Wire.QuotedProbeV6(Cookie, sequence: 4, payloadSize: 0).CopyTo(quoted, 0);
        quoted.AsSpan(128).Fill(0x5A);

        Assert.True(IcmpParser.TryParseV6(Wire.Error(3, 0, quoted, rest: 16u << 24), out var r));

        Assert.False(r.HasCookie);
        Assert.Equal(4, r.Sequence);
    }

    /// <summary>An extension header of the 8-octet kind (Hop-by-Hop, Routing, Destination Options), <paramref name="units"/> + 1 long.</summary>
    private static byte[] Extension(byte nextHeader, int units, byte[] body)
    {
        var header = new byte[((units + 1) * 8) + body.Length];
        header[0] = nextHeader;
        header[1] = (byte)units;
        body.CopyTo(header, (units + 1) * 8);
        return header;
    }

    [Theory]
    [InlineData((byte)0)]
    [InlineData((byte)43)]
    [InlineData((byte)60)]
    public void AnErrorQuotingAProbeWithAnExtensionHeaderIsOurs(byte extension)
    {
        // Issue 14 (8): only a Fragment header was walked; a Hop-by-Hop, Routing or Destination Options header
        // in front of the echo request (a router alert, a segment routing header) lost the error.
        var quoted = Wire.IPv6(Extension(58, 1, Wire.Echo(128, 300, 4, Cookie, 24)), nextHeader: extension);

        Assert.True(IcmpParser.TryParseV6(Wire.Error(3, 0, quoted), out var r));

        Assert.Equal(IcmpKind.TimeExceeded, r.Kind);
        Assert.Equal(300, r.Identifier);
        Assert.Equal(4, r.Sequence);
        Assert.Equal(Cookie, r.Cookie);
    }

    [Fact]
    public void AnErrorQuotingAChainOfExtensionHeadersAndAFirstFragmentIsOurs()
    {
        var quoted = Wire.IPv6(Extension(60, 0, Extension(44, 2, Wire.Fragment(58, 0, more: true, Wire.Echo(128, 300, 4, Cookie, 1400)))),
            nextHeader: 0);

        Assert.True(IcmpParser.TryParseV6(Wire.Error(3, 0, quoted[..1232]), out var r));

        Assert.Equal(4, r.Sequence);
        Assert.Equal(Cookie, r.Cookie);
    }

    [Fact]
    public void AnExtensionHeaderLongerThanTheQuoteIsNotRead()
    {
        var quoted = Wire.IPv6(Extension(58, 1, Wire.Echo(128, 300, 4, Cookie, 24)), nextHeader: 60);
        quoted[41] = 200;

        Assert.False(IcmpParser.TryParseV6(Wire.Error(3, 0, quoted), out _));
    }

    [Fact]
    public void AnErrorAboutTheFirstFragmentOfALargeProbeIsOurs()
    {
        var quoted = Wire.IPv6(Wire.Fragment(58, 0, more: true, Wire.Echo(128, 300, 4, Cookie, 1400)), nextHeader: 44);

        Assert.True(IcmpParser.TryParseV6(Wire.Error(3, 0, quoted[..1232]), out var r));

        Assert.Equal(IcmpKind.TimeExceeded, r.Kind);
        Assert.Equal(4, r.Sequence);
        Assert.Equal(Cookie, r.Cookie);
    }
}
