using System.Buffers.Binary;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets;

/// <summary>
/// The datagram socket's framing, on what this kernel really returned (captured in the lab as uid 65534 with
/// recvmsg(MSG_ERRQUEUE)): control blocks with SO_TIMESTAMPNS, IP_TTL / IPV6_HOPLIMIT and sock_extended_err
/// with its offender, and the returned echo requests.
/// </summary>
public sealed class DatagramFramingTests
{
    /// <summary>One control message as the kernel lays it out: cmsghdr (16 bytes on LP64), data, padding to 8.</summary>
    private static byte[] Cmsg(int level, int type, string hexData)
    {
        var data = Convert.FromHexString(hexData);
        var message = new byte[(16 + data.Length + 7) & ~7];
        BinaryPrimitives.WriteUInt64LittleEndian(message, (ulong)(16 + data.Length));
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(8), level);
        BinaryPrimitives.WriteInt32LittleEndian(message.AsSpan(12), type);
        data.CopyTo(message, 16);
        return message;
    }

    // TTL 1 to 198.18.4.2: r1 (198.18.1.1) says Time Exceeded; ee_errno 113 EHOSTUNREACH, origin 2 (ICMP).
    private static readonly byte[] V4TimeExceeded =
    [
        .. Cmsg(1, 35, "F34F0F6B00000000A39C320400000000"),
        .. Cmsg(0, 2, "40000000"),
        .. Cmsg(0, 11, "71000000020B0000000000000000000002000000C61201010000000000000000"),
    ];

    // Hop limit 2 to 2001:db8:4::2: r2 (2001:db8:2::2) says Time Exceeded; origin 3 (ICMPv6).
    private static readonly byte[] V6TimeExceeded =
    [
        .. Cmsg(1, 35, "F34F0F6B000000004D44392500000000"),
        .. Cmsg(41, 52, "3F000000"),
        .. Cmsg(41, 25, "710000000303000000000000000000000A0000000000000020010DB800020000000000000000000200000000"),
    ];

    /// <summary>The request the kernel returned with the v4 error: identifier 0xE6EA (the socket's port), sequence 77.</summary>
    private static readonly byte[] ReturnedV4Request = Convert.FromHexString("08009342E6EA004DA8A9AAABACADAEAFB0B1B2B3B4B5B6B7");

    [Fact]
    public void TheErrorQueueControlBlockGivesTheOffenderTypeCodeTtlAndTime()
    {
        LinuxErrorQueue.ReadControl(V4TimeExceeded, out var control);

        Assert.True(control.HasIcmpError);
        Assert.Equal(11, control.Type);
        Assert.Equal(0, control.Code);
        Assert.Equal(113, control.Errno);
        Assert.Equal(IpKey.FromAddress(IPAddress.Parse("198.18.1.1")), control.Offender);
        Assert.Equal(64, control.Ttl);
        Assert.Equal((0x6B0F4FF3L * 1_000_000_000L) + 0x04329CA3L, control.KernelRealtimeNs);
    }

    [Fact]
    public void TheIPv6ControlBlockGivesTheOffenderAndHopLimit()
    {
        LinuxErrorQueue.ReadControl(V6TimeExceeded, out var control);

        Assert.True(control.HasIcmpError);
        Assert.Equal(3, control.Type);
        Assert.Equal(IpKey.FromAddress(IPAddress.Parse("2001:db8:2::2")), control.Offender);
        Assert.Equal(63, control.Ttl);
    }

    [Fact]
    public void ALocalErrorIsNoIcmpError()
    {
        // Origin 1 (SO_EE_ORIGIN_LOCAL): EMSGSIZE of a DontFragment send, no offender worth the name.
        LinuxErrorQueue.ReadControl(Cmsg(0, 11, "5A00000001000000DC0500000000000002000000000000000000000000000000"), out var control);

        Assert.False(control.HasIcmpError);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(17)]
    [InlineData(40)]
    [InlineData(70)]
    public void ACutControlBlockIsReadAsFarAsItIsWholeAndNeverThrows(int length)
    {
        LinuxErrorQueue.ReadControl(V4TimeExceeded.AsSpan(0, length), out var control);

        Assert.False(control.HasIcmpError);
        Assert.Equal(length >= 56 ? 64 : -1, control.Ttl);
    }

    [Fact]
    public void AControlMessageClaimingMoreThanTheBlockStopsTheWalk()
    {
        var block = V4TimeExceeded.ToArray();
        BinaryPrimitives.WriteUInt64LittleEndian(block, 4096);

        LinuxErrorQueue.ReadControl(block, out var control);

        Assert.Equal(0, control.KernelRealtimeNs);
        Assert.False(control.HasIcmpError);
    }

    [Fact]
    public void AnErrorEntryBecomesTheMessageARawSocketWouldHaveGiven()
    {
        LinuxErrorQueue.ReadControl(V4TimeExceeded, out var control);
        var probed = IpKey.FromAddress(IPAddress.Parse("198.18.4.2"));

        Assert.True(DatagramFraming.TryReadError(IcmpFamily.IPv4, ReturnedV4Request, in control, in probed, 1234, out var message));

        Assert.Equal(IcmpKind.TimeExceeded, message.Kind);
        Assert.Equal(11, message.Type);
        Assert.Equal(control.Offender, message.Responder);
        Assert.Equal(probed, message.ProbedDestination);
        Assert.Equal(0xE6EA, message.Identifier);
        Assert.Equal(77, message.Sequence);
        Assert.True(message.HasCookie);
        Assert.Equal(new ProbeCookie(0xA8A9AAAB, 0xACADAEAF), message.Cookie);
        Assert.Equal(64, message.ReceivedTtl);
        // What a datagram socket cannot know is said as unknown, not invented.
        Assert.Equal(-1, message.QuotedTtl);
        Assert.Equal(0, message.BytesReceived);
        Assert.Equal(-1, message.Pointer);
        Assert.Equal(1234, message.ReceivedTimestamp);
    }

    [Theory]
    [InlineData(IcmpFamily.IPv4, 3, 4, 1400u, IcmpKind.DestinationUnreachable, 1400, -1)]
    [InlineData(IcmpFamily.IPv4, 3, 1, 0u, IcmpKind.DestinationUnreachable, 0, -1)]
    [InlineData(IcmpFamily.IPv4, 12, 0, 20u, IcmpKind.ParameterProblem, 0, 20)]
    [InlineData(IcmpFamily.IPv6, 1, 0, 0u, IcmpKind.DestinationUnreachable, 0, -1)]
    [InlineData(IcmpFamily.IPv6, 2, 0, 1280u, IcmpKind.PacketTooBig, 1280, -1)]
    [InlineData(IcmpFamily.IPv6, 4, 0, 40u, IcmpKind.ParameterProblem, 0, 40)]
    public void EachErrorTypeKeepsItsMtuOrPointer(IcmpFamily family, byte type, byte code, uint info, IcmpKind kind, int mtu, int offendingByte)
    {
        var control = new DatagramControl { HasIcmpError = true, Type = type, Code = code, Info = info, Ttl = -1 };
        var request = ReturnedV4Request.ToArray();
        request[0] = family == IcmpFamily.IPv4 ? IcmpTypes.V4EchoRequest : IcmpTypes.V6EchoRequest;

        Assert.True(DatagramFraming.TryReadError(family, request, in control, default, 0, out var message));

        Assert.Equal(kind, message.Kind);
        Assert.Equal(mtu, message.Mtu);
        Assert.Equal(offendingByte, message.Pointer);
    }

    [Theory]
    [InlineData(5)]   // redirect
    [InlineData(4)]   // source quench
    public void ErrorsThatAnswerNoProbeAreRefused(byte type)
    {
        var control = new DatagramControl { HasIcmpError = true, Type = type };

        Assert.False(DatagramFraming.TryReadError(IcmpFamily.IPv4, ReturnedV4Request, in control, default, 0, out _));
    }

    [Fact]
    public void AReturnedPacketThatIsNoEchoRequestIsRefused()
    {
        var control = new DatagramControl { HasIcmpError = true, Type = 11 };
        var request = ReturnedV4Request.ToArray();
        request[0] = IcmpTypes.V4EchoReply;

        Assert.False(DatagramFraming.TryReadError(IcmpFamily.IPv4, request, in control, default, 0, out _));
        Assert.False(DatagramFraming.TryReadError(IcmpFamily.IPv4, ReturnedV4Request.AsSpan(0, 7), in control, default, 0, out _));
    }

    [Fact]
    public void AReplyArrivesWithoutIpHeaderAndKeepsTheKernelsIdentifier()
    {
        // The echo reply to the TTL-64 request above: identifier 0xE6EB (that socket's port), sequence 77.
        var reply = Convert.FromHexString("00009B41E6EB004DA8A9AAABACADAEAFB0B1B2B3B4B5B6B7");
        var source = IpKey.FromAddress(IPAddress.Parse("198.18.4.2"));

        Assert.True(DatagramFraming.TryReadReply(IcmpFamily.IPv4, reply, reply.Length, in source, 61, 5, 6, out var message, out var payload));

        Assert.Equal(IcmpKind.EchoReply, message.Kind);
        Assert.Equal(0xE6EB, message.Identifier);
        Assert.Equal(77, message.Sequence);
        Assert.Equal(source, message.ProbedDestination);
        Assert.Equal(61, message.ReceivedTtl);
        Assert.Equal(24, message.BytesReceived);
        Assert.Equal(16, payload.Length);
    }
}
