using System.Buffers.Binary;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Packets;

public sealed class PacketCodecTests
{
    /// <summary>A naive RFC 1071 reference: 16-bit words, carries folded at the end.</summary>
    private static ushort Reference(byte[] data)
    {
        long sum = 0;
        for (var i = 0; i < data.Length; i += 2)
        {
            sum += (data[i] << 8) | (i + 1 < data.Length ? data[i + 1] : 0);
        }
        while (sum >> 16 != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }

    [Fact]
    public void ChecksumMatchesTheRfc1071Example()
    {
        // RFC 1071 section 3: these bytes sum to 0xddf2, so the checksum is its complement, 0x220d.
        Assert.Equal(0x220d, InternetChecksum.Compute([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]));
    }

    [Theory]
    [InlineData(new byte[] { }, 0xFFFF)]
    [InlineData(new byte[] { 0x00 }, 0xFFFF)]
    [InlineData(new byte[] { 0x01 }, 0xFEFF)]
    [InlineData(new byte[] { 0x12, 0x34, 0x56 }, 0x97CB)]
    [InlineData(new byte[] { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF }, 0x00FF)]
    public void OddAndEdgeLengthsPadWithZeroOnTheRight(byte[] data, int expected)
    {
        Assert.Equal(expected, InternetChecksum.Compute(data));
        Assert.Equal(Reference(data), InternetChecksum.Compute(data));
    }

    [Fact]
    public void ChecksumAgreesWithTheReferenceAndVerifiesToZeroAtEveryLength()
    {
        var random = new Random(1071);
        for (var length = 2; length <= 1500; length += 1 + (length / 50))
        {
            var data = new byte[length + (length % 2)];
            random.NextBytes(data);
            data[0] = data[1] = 0;
            Assert.Equal(Reference(data[..length]), InternetChecksum.Compute(data.AsSpan(0, length)));
            BinaryPrimitives.WriteUInt16BigEndian(data, InternetChecksum.Compute(data));
            Assert.Equal(0, InternetChecksum.Compute(data));
        }
    }

    [Fact]
    public void AnEchoRequestCarriesHeaderCookieAndFill()
    {
        var buffer = new byte[64];
        var length = EchoRequestWriter.Write(buffer, IcmpFamily.IPv4, 0x1234, 0xABCD, new ProbeCookie(0xDEADBEEF, 7), 56, default, false);

        Assert.Equal(64, length);
        Assert.Equal(8, buffer[0]);
        Assert.Equal(0, buffer[1]);
        Assert.Equal(0x1234, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(4)));
        Assert.Equal(0xABCD, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6)));
        Assert.Equal(new byte[] { 0xDE, 0xAD, 0xBE, 0xEF, 0, 0, 0, 7 }, buffer[8..16]);
        Assert.Equal(8, buffer[16]);
        Assert.Equal(55, buffer[63]);
        Assert.Equal(0, InternetChecksum.Compute(buffer));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(7)]
    public void ShortPayloadsCarryACutCookie(int size)
    {
        var buffer = new byte[16];
        var length = EchoRequestWriter.Write(buffer, IcmpFamily.IPv4, 1, 1, new ProbeCookie(0x01020304, 0x05060708), size, default, false);
        Assert.Equal(8 + size, length);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7 }[..size], buffer[8..(8 + size)]);
        Assert.True(IcmpParser.TryParseV4Icmp(buffer.AsSpan(0, length), out var parsed));
        Assert.False(parsed.HasCookie);
    }

    [Fact]
    public void IPv6RequestsLeaveTheChecksumToTheKernelAndExplicitPayloadsAreExact()
    {
        var buffer = new byte[16];
        var length = EchoRequestWriter.Write(buffer, IcmpFamily.IPv6, 5, 6, default, 0, [9, 8, 7], true);
        Assert.Equal(11, length);
        Assert.Equal(128, buffer[0]);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(2)));
        Assert.Equal(new byte[] { 9, 8, 7 }, buffer[8..11]);
        Assert.Throws<ArgumentException>(() => EchoRequestWriter.Write(new byte[8], IcmpFamily.IPv4, 1, 1, default, 56, default, false));
    }

    private static byte[] Echo(byte type, ushort id, ushort seq, ProbeCookie cookie, int payload = 56)
    {
        var icmp = new byte[8 + payload];
        EchoRequestWriter.Write(icmp, IcmpFamily.IPv4, id, seq, cookie, payload, default, false);
        icmp[0] = type;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), InternetChecksum.Compute(icmp));
        return icmp;
    }

    private static byte[] IPv4(byte[] body, byte protocol = 1, int optionWords = 0, string source = "198.18.4.2", string destination = "198.18.1.2")
    {
        var header = 20 + (optionWords * 4);
        var datagram = new byte[header + body.Length];
        datagram[0] = (byte)(0x40 | (header / 4));
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), (ushort)datagram.Length);
        datagram[8] = 61;
        datagram[9] = protocol;
        for (var i = 20; i < header; i++)
        {
            datagram[i] = 1; // NOP options
        }
        IPAddress.Parse(source).TryWriteBytes(datagram.AsSpan(12), out _);
        IPAddress.Parse(destination).TryWriteBytes(datagram.AsSpan(16), out _);
        body.CopyTo(datagram, header);
        return datagram;
    }

    private static byte[] Error(byte type, byte code, byte[] quoted)
    {
        var icmp = new byte[8 + quoted.Length];
        icmp[0] = type;
        icmp[1] = code;
        quoted.CopyTo(icmp, 8);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), InternetChecksum.Compute(icmp));
        return icmp;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(10)]
    public void AnEchoReplyParsesWhateverTheIpHeaderLength(int optionWords)
    {
        var datagram = IPv4(Echo(0, 77, 9, new ProbeCookie(1, 2)), optionWords: optionWords);

        Assert.True(IcmpParser.TryParseV4(datagram, out var r));
        Assert.Equal(IcmpKind.EchoReply, r.Kind);
        Assert.Equal(77, r.Identifier);
        Assert.Equal(9, r.Sequence);
        Assert.Equal(61, r.Ttl);
        Assert.True(r.HasCookie);
        Assert.Equal(new ProbeCookie(1, 2), r.Cookie);
        Assert.Equal(64, r.IcmpLength);
        Assert.Equal(20 + (optionWords * 4) + 8, r.PayloadOffset);
    }

    [Theory]
    [InlineData(11, 0, IcmpKind.TimeExceeded)]
    [InlineData(3, 1, IcmpKind.DestinationUnreachable)]
    [InlineData(12, 0, IcmpKind.ParameterProblem)]
    public void AnErrorQuotingOurProbeYieldsItsDestinationIdSequenceAndCookie(byte type, byte code, IcmpKind kind)
    {
        var original = IPv4(Echo(8, 300, 4, new ProbeCookie(5, 6)), optionWords: 2, source: "198.18.1.2", destination: "198.19.7.7");
        var datagram = IPv4(Error(type, code, original), source: "198.18.2.2");

        Assert.True(IcmpParser.TryParseV4(datagram, out var r));
        Assert.Equal(kind, r.Kind);
        Assert.Equal(code, r.Code);
        Assert.Equal(300, r.Identifier);
        Assert.Equal(4, r.Sequence);
        Assert.Equal(new ProbeCookie(5, 6), r.Cookie);
        Assert.Equal(IpKey.FromAddress(IPAddress.Parse("198.19.7.7")), r.QuotedDestination);
    }

    [Fact]
    public void AnErrorQuotingOnlyEightBytesHasIdAndSequenceButNoCookie()
    {
        var original = IPv4(Echo(8, 300, 4, new ProbeCookie(5, 6)), destination: "198.19.7.7")[..28];
        Assert.True(IcmpParser.TryParseV4(IPv4(Error(11, 0, original)), out var r));
        Assert.False(r.HasCookie);
        Assert.Equal(300, r.Identifier);
        Assert.Equal(4, r.Sequence);
    }

    [Fact]
    public void IPv6EchoRepliesAndErrorsParse()
    {
        var reply = Echo(129, 1, 2, new ProbeCookie(3, 4));
        Assert.True(IcmpParser.TryParseV6(reply, out var r));
        Assert.Equal(IcmpKind.EchoReply, r.Kind);
        Assert.Equal(new ProbeCookie(3, 4), r.Cookie);

        var request = Echo(128, 1, 2, new ProbeCookie(3, 4));
        var ipv6 = new byte[40 + request.Length];
        ipv6[0] = 0x60;
        ipv6[6] = 58;
        IPAddress.Parse("2001:db8:12::7").TryWriteBytes(ipv6.AsSpan(24), out _);
        request.CopyTo(ipv6, 40);
        var tooBig = Error(2, 0, ipv6);
        BinaryPrimitives.WriteUInt32BigEndian(tooBig.AsSpan(4), 1280);
        Assert.True(IcmpParser.TryParseV6(tooBig, out var e));
        Assert.Equal(IcmpKind.PacketTooBig, e.Kind);
        Assert.Equal(1280, e.Mtu);
        Assert.Equal(IpKey.FromAddress(IPAddress.Parse("2001:db8:12::7")), e.QuotedDestination);
        Assert.Equal(new ProbeCookie(3, 4), e.Cookie);
    }

    public static TheoryData<string, byte[]> Hostile()
    {
        var good = IPv4(Echo(0, 1, 1, new ProbeCookie(1, 1)));
        var badChecksum = (byte[])good.Clone();
        badChecksum[30] ^= 0xFF;
        var ihlTooSmall = (byte[])good.Clone();
        ihlTooSmall[0] = 0x44;
        var ihlTooLarge = (byte[])good.Clone();
        ihlTooLarge[0] = 0x4F;
        var version6 = (byte[])good.Clone();
        version6[0] = 0x65;
        var udpQuote = IPv4(Error(3, 3, IPv4(new byte[16], protocol: 17)));
        var replyQuote = IPv4(Error(11, 0, IPv4(Echo(0, 1, 1, default))));
        var cutQuote = IPv4(Error(11, 0, IPv4(Echo(8, 1, 1, default))[..14]));
        var bogusQuotedIhl = IPv4(Error(11, 0, IPv4(Echo(8, 1, 1, default))));
        bogusQuotedIhl[28] = 0x4F;
        BinaryPrimitives.WriteUInt16BigEndian(bogusQuotedIhl.AsSpan(22), 0);
        BinaryPrimitives.WriteUInt16BigEndian(bogusQuotedIhl.AsSpan(22), InternetChecksum.Compute(bogusQuotedIhl.AsSpan(20)));
        return new TheoryData<string, byte[]>
        {
            { "empty", [] },
            { "27 bytes", good[..27] },
            { "bad checksum", badChecksum },
            { "IHL below 5", ihlTooSmall },
            { "IHL beyond the data", ihlTooLarge },
            { "version 6 in an IPv4 header", version6 },
            { "UDP instead of ICMP", IPv4(Echo(0, 1, 1, default), protocol: 17) },
            { "error about a UDP datagram", udpQuote },
            { "error about someone's echo reply", replyQuote },
            { "quote cut inside the IP header", cutQuote },
            { "quoted IHL bogus", bogusQuotedIhl },
        };
    }

    [Theory]
    [MemberData(nameof(Hostile))]
    public void HostileDatagramsAreRefused(string why, byte[] datagram)
    {
        Assert.False(IcmpParser.TryParseV4(datagram, out _), why);
    }

    [Fact]
    public void RandomAndBitFlippedInputNeverThrows()
    {
        var random = new Random(792);
        var seed = IPv4(Error(11, 0, IPv4(Echo(8, 1, 1, new ProbeCookie(1, 1)))));
        for (var i = 0; i < 20_000; i++)
        {
            byte[] data;
            if (i % 2 == 0)
            {
                data = new byte[random.Next(0, 200)];
                random.NextBytes(data);
            }
            else
            {
                data = seed[..random.Next(0, seed.Length + 1)];
                for (var flips = random.Next(1, 4); flips > 0 && data.Length > 0; flips--)
                {
                    data[random.Next(data.Length)] ^= (byte)(1 << random.Next(8));
                }
            }
            // Whatever is accepted must point inside the data it came from.
            if (IcmpParser.TryParseV4(data, out var v4))
            {
                Assert.InRange(v4.IcmpLength, 8, data.Length - 20);
                Assert.InRange(v4.PayloadOffset + v4.PayloadLength, 0, data.Length);
            }
            if (IcmpParser.TryParseV4Icmp(data, out var icmp))
            {
                Assert.Equal(data.Length, icmp.IcmpLength);
            }
            if (IcmpParser.TryParseV6(data, out var v6))
            {
                Assert.InRange(v6.PayloadOffset + v6.PayloadLength, 0, data.Length);
            }
        }
    }
}
