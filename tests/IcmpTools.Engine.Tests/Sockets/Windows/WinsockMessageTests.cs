using System.Net;
using System.Runtime.InteropServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets.Windows;
using IcmpTools.Engine.Tests.Packets;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets.Windows;

/// <summary>
/// The raw Winsock transport's pure half, on any platform: WSAMSG / WSABUF as ws2def.h lays them out for x64, and
/// what WSARecvMsg hands back (SOCKADDR, WSACMSGHDR control blocks, the datagram) read into the message the prober
/// matches. Wine 8 opens no raw ICMPv6 socket, so the IPv6 hop limit is tested here only; the control blocks are
/// written out byte by byte as Windows fills them, independently of the reader's constants.
/// </summary>
public sealed class WinsockMessageTests
{
    private static readonly ProbeCookie Cookie = new(0xC0FFEE, 42);

    /// <summary>x64 WSACMSGHDR: cmsg_len (SIZE_T) 20 = WSA_CMSG_LEN(4), IPPROTO_IPV6 (41), IPV6_HOPLIMIT (21), the INT 57, padding to 24.</summary>
    private static readonly byte[] HopLimit57 =
    [
        0x14, 0, 0, 0, 0, 0, 0, 0, 0x29, 0, 0, 0, 0x15, 0, 0, 0,
        0x39, 0, 0, 0, 0, 0, 0, 0,
    ];

    /// <summary>x64 IPV6_PKTINFO (19): cmsg_len 36, IN6_PKTINFO { 2001:db8:1::2, interface 7 }, padding to 40.</summary>
    private static readonly byte[] PacketInfo =
    [
        0x24, 0, 0, 0, 0, 0, 0, 0, 0x29, 0, 0, 0, 0x13, 0, 0, 0,
        0x20, 0x01, 0x0d, 0xb8, 0, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
        0x07, 0, 0, 0, 0, 0, 0, 0,
    ];

    /// <summary>A SOCKADDR_IN6 (28 bytes): AF_INET6 is 23 on Windows, the address at 8.</summary>
    private static byte[] SockAddrIn6(string address, ushort family = 23)
    {
        var name = new byte[28];
        BitConverter.TryWriteBytes(name, family);
        IPAddress.Parse(address).TryWriteBytes(name.AsSpan(8), out _);
        return name;
    }

    /// <summary>A SOCKADDR_IN (16 bytes): AF_INET 2, the address at 4.</summary>
    private static byte[] SockAddrIn(string address)
    {
        var name = new byte[16];
        name[0] = 2;
        IPAddress.Parse(address).TryWriteBytes(name.AsSpan(4), out _);
        return name;
    }

    [Fact]
    public void TheMessageStructuresHaveTheX64LayoutOfTheWindowsSdk()
    {
        Assert.Equal(8, IntPtr.Size);
        Assert.Equal(16, Marshal.SizeOf<WsaBuf>());
        Assert.Equal(8, (int)Marshal.OffsetOf<WsaBuf>(nameof(WsaBuf.Buffer)));
        Assert.Equal(56, Marshal.SizeOf<WsaMsg>());
        Assert.Equal(0, (int)Marshal.OffsetOf<WsaMsg>(nameof(WsaMsg.Name)));
        Assert.Equal(8, (int)Marshal.OffsetOf<WsaMsg>(nameof(WsaMsg.NameLength)));
        Assert.Equal(16, (int)Marshal.OffsetOf<WsaMsg>(nameof(WsaMsg.Buffers)));
        Assert.Equal(24, (int)Marshal.OffsetOf<WsaMsg>(nameof(WsaMsg.BufferCount)));
        Assert.Equal(32, (int)Marshal.OffsetOf<WsaMsg>(nameof(WsaMsg.Control)));
        Assert.Equal(48, (int)Marshal.OffsetOf<WsaMsg>(nameof(WsaMsg.Flags)));
    }

    [Fact]
    public void TheHopLimitIsReadFromItsControlMessage()
    {
        Assert.Equal(57, WinsockMessage.ReadHopLimit(HopLimit57, 8));
    }

    [Theory]
    [InlineData(true, 0)]
    [InlineData(false, 0)]
    [InlineData(true, 4)]
    [InlineData(false, 4)]
    public void TheHopLimitIsFoundBesideOtherControlMessagesWithOrWithoutTheLastPadding(bool packetInfoFirst, int paddingCut)
    {
        var block = (packetInfoFirst ? PacketInfo.Concat(HopLimit57) : HopLimit57.Concat(PacketInfo)).ToArray();
        Assert.Equal(57, WinsockMessage.ReadHopLimit(block.AsSpan(0, block.Length - paddingCut), 8));
    }

    [Fact]
    public void A32BitProcessesHeaderIsTwelveBytesWithTheDataAtTwelve()
    {
        // x86: SIZE_T is 4 bytes, cmsg_len 16 = WSA_CMSG_LEN(4); an unknown IP-level message of 4 data bytes first.
        byte[] block =
        [
            0x10, 0, 0, 0, 0, 0, 0, 0, 0x63, 0, 0, 0, 0xAA, 0xAA, 0xAA, 0xAA,
            0x10, 0, 0, 0, 0x29, 0, 0, 0, 0x15, 0, 0, 0, 0x40, 0, 0, 0,
        ];
        Assert.Equal(64, WinsockMessage.ReadHopLimit(block, 4));
    }

    [Fact]
    public void NoControlBlockOrOnlyOtherMessagesGiveNoHopLimit()
    {
        Assert.Equal(-1, WinsockMessage.ReadHopLimit([], 8));
        Assert.Equal(-1, WinsockMessage.ReadHopLimit(PacketInfo, 8));
        var ipLevelType21 = (byte[])HopLimit57.Clone();
        ipLevelType21[8] = 0; // IPPROTO_IP 21 is IP_RECVTTL's number, not the IPv6 hop limit
        Assert.Equal(-1, WinsockMessage.ReadHopLimit(ipLevelType21, 8));
    }

    [Fact]
    public void EveryCutOfAControlBlockGivesTheHopLimitOnlyWhenItsMessageIsWhole()
    {
        var block = PacketInfo.Concat(HopLimit57).ToArray();
        for (var length = 0; length <= block.Length; length++)
        {
            var expected = length >= PacketInfo.Length + 20 ? 57 : -1;
            Assert.Equal(expected, WinsockMessage.ReadHopLimit(block.AsSpan(0, length), 8));
        }
    }

    [Theory]
    [InlineData(0UL)]
    [InlineData(15UL)]
    [InlineData(25UL)]
    [InlineData(0xFFFF_FFFF_FFFF_FFF0UL)]
    public void ACmsgLenShorterThanAHeaderOrPastTheEndEndsTheWalkWithoutAHopLimit(ulong cmsgLength)
    {
        var block = (byte[])HopLimit57.Clone();
        BitConverter.TryWriteBytes(block, cmsgLength);
        Assert.Equal(-1, WinsockMessage.ReadHopLimit(block, 8));
        // A bad message in front hides what follows: the walk cannot know where the next one starts.
        var first = (byte[])PacketInfo.Clone();
        BitConverter.TryWriteBytes(first, cmsgLength);
        Assert.Equal(-1, WinsockMessage.ReadHopLimit(first.Concat(HopLimit57).ToArray(), 8));
    }

    [Theory]
    [InlineData(18, 57, -1)]
    [InlineData(20, 256, -1)]
    [InlineData(20, -1, -1)]
    [InlineData(20, 0, 0)]
    [InlineData(20, 255, 255)]
    public void AHopLimitMessageTooShortForItsIntOrOutOfRangeIsIgnored(int cmsgLength, int value, int expected)
    {
        var block = (byte[])HopLimit57.Clone();
        BitConverter.TryWriteBytes(block, (ulong)cmsgLength);
        BitConverter.TryWriteBytes(block.AsSpan(16), value);
        Assert.Equal(expected, WinsockMessage.ReadHopLimit(block, 8));
    }

    [Fact]
    public void RandomControlBlocksNeverThrow()
    {
        var random = new Random(1317);
        var block = new byte[WinsockMessage.ControlSize];
        for (var i = 0; i < 20_000; i++)
        {
            random.NextBytes(block);
            // Small lengths half the time, so the walk goes past the first header often.
            if (i % 2 == 0)
            {
                BitConverter.TryWriteBytes(block, (ulong)random.Next(0, 64));
            }
            var hopLimit = WinsockMessage.ReadHopLimit(block.AsSpan(0, random.Next(0, block.Length + 1)), 8);
            Assert.InRange(hopLimit, -1, 255);
        }
    }

    [Fact]
    public void TheSenderIsReadFromSockAddrInAndSockAddrIn6WithWindowsFamilyNumbers()
    {
        Assert.True(WinsockMessage.TryReadAddress(IcmpFamily.IPv6, SockAddrIn6(Wire.Target6), out var v6));
        Assert.Equal(Wire.Key(Wire.Target6), v6);
        Assert.True(WinsockMessage.TryReadAddress(IcmpFamily.IPv4, SockAddrIn(Wire.Target), out var v4));
        Assert.Equal(Wire.Key(Wire.Target), v4);

        Assert.False(WinsockMessage.TryReadAddress(IcmpFamily.IPv6, SockAddrIn6(Wire.Target6, family: 10), out _));
        Assert.False(WinsockMessage.TryReadAddress(IcmpFamily.IPv4, SockAddrIn6(Wire.Target6), out _));
        Assert.False(WinsockMessage.TryReadAddress(IcmpFamily.IPv6, SockAddrIn6(Wire.Target6).AsSpan(0, 23), out _));
        Assert.False(WinsockMessage.TryReadAddress(IcmpFamily.IPv4, SockAddrIn(Wire.Target).AsSpan(0, 7), out _));
        Assert.False(WinsockMessage.TryReadAddress(IcmpFamily.IPv4, [], out _));
    }

    [Fact]
    public void AnIcmpv6EchoReplyCarriesTheHopLimitOfItsControlBlock()
    {
        var reply = Wire.Echo(129, 300, 4, Cookie);

        Assert.True(WinsockMessage.TryRead(IcmpFamily.IPv6, reply, reply.Length, SockAddrIn6(Wire.Target6),
            PacketInfo.Concat(HopLimit57).ToArray(), 8, 1234, out var message, out var echoed));

        Assert.Equal(IcmpKind.EchoReply, message.Kind);
        Assert.Equal(Wire.Key(Wire.Target6), message.Responder);
        Assert.Equal(Wire.Key(Wire.Target6), message.ProbedDestination);
        Assert.Equal(57, message.ReceivedTtl);
        Assert.Equal(Cookie, message.Cookie);
        Assert.Equal(1234, message.ReceivedTimestamp);
        Assert.Equal(reply.Length, message.BytesReceived);
        Assert.Equal(reply.AsSpan(8).ToArray(), echoed.ToArray());
    }

    [Fact]
    public void AnIcmpv6TimeExceededCarriesTheRoutersHopLimitAndMatchesTheQuotedProbe()
    {
        var error = Wire.Error(3, 0, Wire.QuotedProbeV6(Cookie));

        Assert.True(WinsockMessage.TryRead(IcmpFamily.IPv6, error, error.Length, SockAddrIn6("2001:db8:2::1"), HopLimit57, 8, 1,
            out var message, out _));

        Assert.Equal(IcmpKind.TimeExceeded, message.Kind);
        Assert.Equal(Wire.Key("2001:db8:2::1"), message.Responder);
        Assert.Equal(Wire.Key(Wire.Target6), message.ProbedDestination);
        Assert.Equal(57, message.ReceivedTtl);
        Assert.Equal(Cookie, message.Cookie);
    }

    [Fact]
    public void AnIcmpv6AnswerWithoutAUsableControlBlockStillCountsWithAnUnknownHopLimit()
    {
        var reply = Wire.Echo(129, 300, 4, Cookie);
        var cut = HopLimit57.AsSpan(0, 19).ToArray();

        Assert.True(WinsockMessage.TryRead(IcmpFamily.IPv6, reply, reply.Length, SockAddrIn6(Wire.Target6), cut, 8, 1, out var message, out _));

        Assert.Equal(IcmpKind.EchoReply, message.Kind);
        Assert.Equal(-1, message.ReceivedTtl);
    }

    [Fact]
    public void AnIpv4AnswerTakesItsTtlFromItsHeaderWhateverTheControlBlockSays()
    {
        var datagram = Wire.IPv4(Wire.Echo(0, 300, 4, Cookie), ttl: 61);

        Assert.True(WinsockMessage.TryRead(IcmpFamily.IPv4, datagram, datagram.Length, SockAddrIn(Wire.Target), HopLimit57, 8, 1,
            out var message, out _));

        Assert.Equal(IcmpKind.EchoReply, message.Kind);
        Assert.Equal(Wire.Key(Wire.Target), message.Responder);
        Assert.Equal(61, message.ReceivedTtl);
    }

    [Fact]
    public void AnAnswerFromAnUnreadableSenderIsDropped()
    {
        var reply = Wire.Echo(129, 300, 4, Cookie);
        Assert.False(WinsockMessage.TryRead(IcmpFamily.IPv6, reply, reply.Length, SockAddrIn(Wire.Target), HopLimit57, 8, 1, out _, out _));
    }
}
