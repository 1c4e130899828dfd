using System.Buffers.Binary;
using IcmpTools.Engine.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Packets;

/// <summary>Anything on the network reaches a raw socket: the parser refuses garbage and never throws.</summary>
public sealed class HostileInputTests
{
    private static readonly ProbeCookie Cookie = new(1, 1);

    private static byte[] Reply() => Wire.IPv4(Wire.Echo(0, 1, 1, Cookie));

    private static byte[] ErrorV4(byte[] quoted) => Wire.IPv4(Wire.Error(11, 0, quoted), source: "198.18.2.2");

    private static byte[] Mutated(byte[] datagram, Action<byte[]> mutate)
    {
        var copy = (byte[])datagram.Clone();
        mutate(copy);
        return copy;
    }

    private static byte[] WithHeaderChecksum(byte[] datagram)
    {
        var headerLength = Math.Min(datagram.Length, (datagram[0] & 0x0F) * 4);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(10), 0);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(10), Reference.Checksum(datagram.AsSpan(0, headerLength)));
        return datagram;
    }

    public static TheoryData<string, byte[]> HostileV4() => new()
    {
        { "empty", [] },
        { "IHL 4", Mutated(Reply(), d => d[0] = 0x44) },
        { "IHL 0", Mutated(Reply(), d => d[0] = 0x40) },
        { "IHL beyond the data", Mutated(Wire.IPv4(Wire.Echo(0, 1, 1, Cookie, payloadSize: 0)), d => d[0] = 0x48) },
        { "IHL 15 beyond the data", Mutated(Wire.IPv4(Wire.Echo(0, 1, 1, Cookie, payloadSize: 0)), d => d[0] = 0x4F) },
        { "version 6 in an IPv4 header", Mutated(Reply(), d => d[0] = 0x65) },
        { "total length smaller than the header", Mutated(Reply(), d => BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(2), 19)) },
        { "a non-first fragment", Mutated(Reply(), d => d[7] = 0xB9) },
        { "UDP instead of ICMP", Wire.IPv4(Wire.Echo(0, 1, 1, Cookie), protocol: 17) },
        { "wrong ICMP checksum", Mutated(Reply(), d => d[22] ^= 0x01) },
        { "unknown ICMP type (timestamp reply)", Wire.IPv4(Wire.WithIcmpChecksum(Mutated(Wire.Echo(0, 1, 1, Cookie), d => d[0] = 14))) },
        { "a redirect, which quotes but is no failure", Wire.IPv4(Wire.Error(5, 1, Wire.QuotedProbeV4(Cookie))) },
        { "error about a UDP datagram", ErrorV4(Wire.IPv4(new byte[16], protocol: 17, source: Wire.Us)) },
        { "error about a TCP segment", ErrorV4(Wire.IPv4(new byte[20], protocol: 6, source: Wire.Us)) },
        { "error about someone's echo reply", ErrorV4(Wire.IPv4(Wire.Echo(0, 1, 1, Cookie), source: Wire.Us)) },
        { "quoted IHL below 5", ErrorV4(WithHeaderChecksum(Mutated(Wire.QuotedProbeV4(Cookie), d => d[0] = 0x43))) },
        { "quoted IHL beyond the quote", ErrorV4(WithHeaderChecksum(Mutated(Wire.QuotedProbeV4(Cookie, keep: 28), d => d[0] = 0x4F))) },
        { "quoted version 6", ErrorV4(Mutated(Wire.QuotedProbeV4(Cookie), d => d[0] = 0x65)) },
        { "quoted non-first fragment", ErrorV4(WithHeaderChecksum(Mutated(Wire.QuotedProbeV4(Cookie), d => d[7] = 0xB9))) },
        { "quote cut inside its IP header", ErrorV4(Wire.QuotedProbeV4(Cookie, keep: 14)) },
        { "quote cut inside its IP options", ErrorV4(Wire.QuotedProbeV4(Cookie, optionWords: 3, keep: 30)) },
        { "quote cut inside the echo header", ErrorV4(Wire.QuotedProbeV4(Cookie, keep: 27)) },
        { "error with nothing quoted", ErrorV4([]) },
    };

    [Theory]
    [MemberData(nameof(HostileV4))]
    public void HostileIPv4DatagramsAreRefused(string why, byte[] datagram)
    {
        Assert.False(IcmpParser.TryParseV4(datagram, out _), why);
    }

    [Fact]
    public void EveryPrefixShorterThanAnIpAndIcmpHeaderIsRefused()
    {
        var reply = Reply();
        for (var length = 0; length < 28; length++)
        {
            Assert.False(IcmpParser.TryParseV4(reply.AsSpan(0, length), out _), $"{length} bytes");
            Assert.Equal(length >= 8 + 20, IcmpParser.TryParseV4Icmp(reply.AsSpan(20, Math.Max(0, length - 20)), out _));
        }
    }

    public static TheoryData<string, byte[]> HostileV6() => new()
    {
        { "empty", [] },
        { "7 bytes", Wire.Echo(129, 1, 1, Cookie)[..7] },
        { "unknown type (neighbour solicitation)", Mutated(Wire.Echo(129, 1, 1, Cookie), d => d[0] = 135) },
        { "an IPv4 type number", Mutated(Wire.Echo(129, 1, 1, Cookie), d => d[0] = 0) },
        { "error about a UDP datagram", Wire.Error(1, 4, Wire.IPv6(new byte[16], nextHeader: 17)) },
        { "error about someone's echo reply", Wire.Error(3, 0, Wire.IPv6(Wire.Echo(129, 1, 1, Cookie))) },
        { "quoted version 4", Wire.Error(3, 0, Mutated(Wire.QuotedProbeV6(Cookie), d => d[0] = 0x45)) },
        { "quote cut inside its IP header", Wire.Error(3, 0, Wire.QuotedProbeV6(Cookie, keep: 39)) },
        { "quote cut inside the echo header", Wire.Error(3, 0, Wire.QuotedProbeV6(Cookie, keep: 47)) },
        { "quoted non-first fragment", Wire.Error(3, 0, Wire.IPv6(Wire.Fragment(58, 185, more: false, Wire.Echo(128, 1, 1, Cookie)), nextHeader: 44)) },
        { "quoted fragment header cut", Wire.Error(3, 0, Wire.IPv6(Wire.Fragment(58, 0, more: true, []), nextHeader: 44)[..46]) },
        { "quoted fragment of a UDP datagram", Wire.Error(3, 0, Wire.IPv6(Wire.Fragment(17, 0, more: true, new byte[64]), nextHeader: 44)) },
        { "quoted hop-by-hop options", Wire.Error(3, 0, Wire.IPv6(new byte[8 + 64], nextHeader: 0)) },
        { "error with nothing quoted", Wire.Error(3, 0, []) },
    };

    [Theory]
    [MemberData(nameof(HostileV6))]
    public void HostileIPv6MessagesAreRefused(string why, byte[] message)
    {
        Assert.False(IcmpParser.TryParseV6(message, out _), why);
    }

    [Fact]
    public void RandomAndBitFlippedInputNeverThrowsAndNeverPointsOutsideIt()
    {
        var random = new Random(792);
        byte[][] seeds =
        [
            Reply(),
            ErrorV4(Wire.QuotedProbeV4(Cookie, optionWords: 2)),
            Wire.Echo(129, 1, 1, Cookie),
            Wire.Error(2, 0, Wire.QuotedProbeV6(Cookie), 1280),
            Wire.Error(3, 0, Wire.IPv6(Wire.Fragment(58, 0, more: true, Wire.Echo(128, 1, 1, Cookie)), nextHeader: 44)),
        ];
        for (var i = 0; i < 20_000; i++)
        {
            byte[] data;
            if (i % 4 == 0)
            {
                data = new byte[random.Next(0, 200)];
                random.NextBytes(data);
            }
            else
            {
                var seed = seeds[random.Next(seeds.Length)];
                data = seed[..random.Next(0, seed.Length + 1)];
                for (var flips = random.Next(0, 4); flips > 0 && data.Length > 0; flips--)
                {
                    data[random.Next(data.Length)] ^= (byte)(1 << random.Next(8));
                }
            }

            if (IcmpParser.TryParseV4(data, out var v4))
            {
                AssertInside(v4, data.Length - 20, data.Length);
                Assert.InRange(v4.Ttl, 0, 255);
            }
            if (IcmpParser.TryParseV4Icmp(data, out var icmp))
            {
                AssertInside(icmp, data.Length, data.Length);
            }
            if (IcmpParser.TryParseV6(data, out var v6))
            {
                AssertInside(v6, data.Length, data.Length);
            }
        }
    }

    private static void AssertInside(in IcmpParseResult r, int icmpRoom, int spanLength)
    {
        Assert.NotEqual(IcmpKind.Unknown, r.Kind);
        Assert.InRange(r.IcmpLength, 8, icmpRoom);
        Assert.InRange(r.PayloadLength, 0, spanLength);
        Assert.InRange(r.PayloadOffset, 0, spanLength - r.PayloadLength);
    }
}
