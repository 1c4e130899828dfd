using System.Buffers.Binary;
using IcmpTools.Engine.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Packets;

public sealed class IcmpParserV4Tests
{
    private const string Router = "198.18.2.2";
    private static readonly ProbeCookie Cookie = new(0xC0FFEE, 42);

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(10)]
    public void AnEchoReplyParsesWhateverTheIpHeaderLength(int optionWords)
    {
        var datagram = Wire.IPv4(Wire.Echo(0, 77, 9, Cookie), optionWords: optionWords);
        var headerLength = 20 + (optionWords * 4);

        Assert.True(IcmpParser.TryParseV4(datagram, out var r));

        Assert.Equal(IcmpKind.EchoReply, r.Kind);
        Assert.Equal(0, r.Type);
        Assert.Equal(0, r.Code);
        Assert.Equal(61, r.Ttl);
        Assert.Equal(77, r.Identifier);
        Assert.Equal(9, r.Sequence);
        Assert.True(r.HasCookie);
        Assert.Equal(Cookie, r.Cookie);
        Assert.Equal(64, r.IcmpLength);
        Assert.Equal(headerLength + 8, r.PayloadOffset);
        Assert.Equal(56, r.PayloadLength);
        Assert.Equal(Wire.Echo(0, 77, 9, Cookie)[8..], datagram.AsSpan(r.PayloadOffset, r.PayloadLength).ToArray());
    }

    [Fact]
    public void BytesPastTheTotalLengthAreNotPartOfTheMessage()
    {
        // Were the junk summed in, the checksum would fail; were it counted, the payload would grow.
        var datagram = Wire.IPv4(Wire.Echo(0, 77, 9, Cookie));
        var padded = new byte[datagram.Length + 10];
        padded.AsSpan().Fill(0xAB);
        datagram.CopyTo(padded, 0);

        Assert.True(IcmpParser.TryParseV4(padded, out var r));
        Assert.Equal(64, r.IcmpLength);
        Assert.Equal(56, r.PayloadLength);
    }

    [Theory]
    [InlineData(28, 0, false)]
    [InlineData(35, 7, false)]
    [InlineData(36, 8, true)]
    [InlineData(60, 32, true)]
    public void ADatagramCutByTheReceiveBufferParsesAsFarAsItGoes(int kept, int payloadLength, bool hasCookie)
    {
        var datagram = Wire.IPv4(Wire.Echo(0, 77, 9, Cookie))[..kept];

        Assert.True(IcmpParser.TryParseV4(datagram, out var r));
        Assert.Equal(IcmpKind.EchoReply, r.Kind);
        Assert.Equal(9, r.Sequence);
        Assert.Equal(kept - 20, r.IcmpLength);
        Assert.Equal(payloadLength, r.PayloadLength);
        Assert.Equal(hasCookie, r.HasCookie);
    }

    [Fact]
    public void AnEchoRequestIsRecognisedSoTheCallerCanIgnoreIt()
    {
        Assert.True(IcmpParser.TryParseV4(Wire.IPv4(Wire.Echo(8, 77, 9, Cookie)), out var r));
        Assert.Equal(IcmpKind.EchoRequest, r.Kind);
        Assert.Equal(Cookie, r.Cookie);
    }

    [Fact]
    public void APingSocketMessageHasNoIpHeaderNoTtlAndNoChecksumCheck()
    {
        var message = Wire.Echo(0, 77, 9, Cookie);
        message[2] ^= 0xFF;

        Assert.True(IcmpParser.TryParseV4Icmp(message, out var r));
        Assert.Equal(IcmpKind.EchoReply, r.Kind);
        Assert.Equal(-1, r.Ttl);
        Assert.Equal(8, r.PayloadOffset);
        Assert.Equal(56, r.PayloadLength);
        Assert.Equal(Cookie, r.Cookie);
    }

    [Theory]
    [InlineData(11, 0, IcmpKind.TimeExceeded, 0)]
    [InlineData(11, 1, IcmpKind.TimeExceeded, 0)]
    [InlineData(3, 1, IcmpKind.DestinationUnreachable, 0)]
    [InlineData(3, 3, IcmpKind.DestinationUnreachable, 0)]
    [InlineData(3, 13, IcmpKind.DestinationUnreachable, 0)]
    [InlineData(12, 0, IcmpKind.ParameterProblem, 2)]
    [InlineData(12, 0, IcmpKind.ParameterProblem, 0)]
    public void AnErrorQuotingOurProbeGivesItsDestinationIdSequenceAndCookie(byte type, byte code, IcmpKind kind, int optionWords)
    {
        var quoted = Wire.QuotedProbeV4(Cookie, identifier: 300, sequence: 4, optionWords: optionWords);
        var datagram = Wire.IPv4(Wire.Error(type, code, quoted), source: Router, ttl: 254);

        Assert.True(IcmpParser.TryParseV4(datagram, out var r));

        Assert.Equal(kind, r.Kind);
        Assert.Equal(type, r.Type);
        Assert.Equal(code, r.Code);
        Assert.Equal(254, r.Ttl);
        Assert.Equal(300, r.Identifier);
        Assert.Equal(4, r.Sequence);
        Assert.True(r.HasCookie);
        Assert.Equal(Cookie, r.Cookie);
        Assert.Equal(Wire.Key(Wire.Target), r.QuotedDestination);
        Assert.Equal(8 + quoted.Length, r.IcmpLength);
        Assert.Equal(0, r.PayloadOffset);
        Assert.Equal(0, r.PayloadLength);
    }

    [Fact]
    public void AnErrorQuotingOnlyTheRfc792MinimumHasIdAndSequenceButNoCookie()
    {
        var quoted = Wire.QuotedProbeV4(Cookie, identifier: 300, sequence: 4, keep: 28);

        Assert.True(IcmpParser.TryParseV4(Wire.IPv4(Wire.Error(11, 0, quoted), source: Router), out var r));

        Assert.False(r.HasCookie);
        Assert.Equal(300, r.Identifier);
        Assert.Equal(4, r.Sequence);
        Assert.Equal(Wire.Key(Wire.Target), r.QuotedDestination);
    }

    [Fact]
    public void AnErrorQuotingSevenCookieBytesHasNoCookie()
    {
        var quoted = Wire.QuotedProbeV4(Cookie, keep: 20 + 8 + 7);
        Assert.True(IcmpParser.TryParseV4(Wire.IPv4(Wire.Error(11, 0, quoted), source: Router), out var r));
        Assert.False(r.HasCookie);
    }

    [Fact]
    public void RfcPaddingAfterAShortProbeIsNotReadAsItsCookie()
    {
        // RFC 4884: the quote is zero-padded to 128 bytes before extensions (here an MPLS-like object).
        var quoted = new byte[128 + 12];
        Wire.QuotedProbeV4(Cookie, sequence: 4, payloadSize: 0).CopyTo(quoted, 0);
        quoted.AsSpan(128).Fill(0x5A);
        var error = Wire.Error(11, 0, quoted, rest: 32 << 16);

        Assert.True(IcmpParser.TryParseV4(Wire.IPv4(error, source: Router), out var r));

        Assert.False(r.HasCookie);
        Assert.Equal(4, r.Sequence);
    }

    [Fact]
    public void AQuotedTotalLengthTooSmallForAnyProbeIsIgnoredRatherThanTrusted()
    {
        // Some stacks mangle the quoted length (host byte order, header subtracted); the cookie still counts.
        var quoted = Wire.QuotedProbeV4(Cookie);
        BinaryPrimitives.WriteUInt16BigEndian(quoted.AsSpan(2), 0x0001);

        Assert.True(IcmpParser.TryParseV4(Wire.IPv4(Wire.Error(11, 0, quoted), source: Router), out var r));
        Assert.Equal(Cookie, r.Cookie);
    }

    [Theory]
    [InlineData(4, 1400)]
    [InlineData(1, 0)]
    public void FragmentationNeededCarriesTheNextHopMtu(byte code, int mtu)
    {
        var error = Wire.Error(3, code, Wire.QuotedProbeV4(Cookie), rest: 1400);

        Assert.True(IcmpParser.TryParseV4(Wire.IPv4(error, source: Router), out var r));
        Assert.Equal(mtu, r.Mtu);
    }

    [Fact]
    public void AParameterProblemPointsAtTheOffendingByte()
    {
        var error = Wire.Error(12, 0, Wire.QuotedProbeV4(Cookie), rest: 0x0900_0000);

        Assert.True(IcmpParser.TryParseV4(Wire.IPv4(error, source: Router), out var r));
        Assert.Equal(9, r.Pointer);
    }

    [Fact]
    public void EveryOneBitCorruptionOfTheMessageIsCaughtByTheChecksum()
    {
        var datagram = Wire.IPv4(Wire.Echo(0, 77, 9, Cookie));
        for (var bit = 20 * 8; bit < datagram.Length * 8; bit++)
        {
            var corrupt = (byte[])datagram.Clone();
            corrupt[bit / 8] ^= (byte)(1 << (bit % 8));
            Assert.False(IcmpParser.TryParseV4(corrupt, out _), $"bit {bit}");
        }
    }
}
