using System.Buffers.Binary;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets.Windows;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets.Windows;

/// <summary>
/// The iphlpapi transport's pure half, on any platform: reply buffers laid out as Microsoft documents
/// ICMP_ECHO_REPLY (x64) and ICMPV6_ECHO_REPLY, the IP_STATUS table, and how a completion becomes the message
/// the prober matches (the cookie checked in the echoed data). Wine 8 has no Icmp6SendEcho2, so the IPv6 rows
/// are tested here only.
/// </summary>
public sealed class IpHelperMarshallingTests
{
    private const ulong BufferAddress = 0x0000_7FF6_1234_0000;
    private static readonly long Frequency = TimeProvider.System.TimestampFrequency;

    /// <summary>An ICMP_ECHO_REPLY (x64) with its data after the structure, the Data pointer aimed at it.</summary>
    internal static byte[] V4Reply(uint status, string address, uint rttMs, byte ttl, ReadOnlySpan<byte> data, ulong baseAddress = BufferAddress)
    {
        var buffer = new byte[EchoReplyLayout.ReplyBufferSize(data.Length)];
        IPAddress.Parse(address).TryWriteBytes(buffer, out _);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(4), status);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(8), rttMs);
        BinaryPrimitives.WriteUInt16LittleEndian(buffer.AsSpan(12), (ushort)data.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(buffer.AsSpan(16), data.IsEmpty ? 0 : baseAddress + EchoReplyLayout.V4ReplySize);
        buffer[24] = ttl;
        data.CopyTo(buffer.AsSpan(EchoReplyLayout.V4ReplySize));
        return buffer;
    }

    /// <summary>An ICMPV6_ECHO_REPLY: packed IPV6_ADDRESS_EX (address @6), Status @28, RoundTripTime @32, data @36.</summary>
    internal static byte[] V6Reply(uint status, string address, uint rttMs, ReadOnlySpan<byte> data)
    {
        var buffer = new byte[EchoReplyLayout.ReplyBufferSize(data.Length)];
        IPAddress.Parse(address).TryWriteBytes(buffer.AsSpan(6, 16), out _);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(28), status);
        BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(32), rttMs);
        data.CopyTo(buffer.AsSpan(EchoReplyLayout.V6ReplySize));
        return buffer;
    }

    internal static byte[] CookiePayload(uint session, uint serial, int size = 32)
    {
        var payload = new byte[size];
        new ProbeCookie(session, serial).WriteTo(payload);
        for (var i = ProbeCookie.Size; i < size; i++)
        {
            payload[i] = (byte)i;
        }
        return payload;
    }

    private static EchoRequestRecord Request(string destination, long sent = 1_000_000) => new()
    {
        Destination = IpKey.FromAddress(IPAddress.Parse(destination)),
        Identifier = 0x5001,
        Sequence = 7,
        SentTimestamp = sent,
    };

    [Theory]
    // family, IP_STATUS, probe status, ICMP type, code (-1: no message)
    [InlineData(IcmpFamily.IPv4, 0u, IcmpStatus.Success, 0, 0)]
    [InlineData(IcmpFamily.IPv4, 11002u, IcmpStatus.DestinationUnreachable, 3, 0)]
    [InlineData(IcmpFamily.IPv4, 11003u, IcmpStatus.DestinationUnreachable, 3, 1)]
    [InlineData(IcmpFamily.IPv4, 11004u, IcmpStatus.DestinationUnreachable, 3, 2)]
    [InlineData(IcmpFamily.IPv4, 11005u, IcmpStatus.DestinationUnreachable, 3, 3)]
    [InlineData(IcmpFamily.IPv4, 11009u, IcmpStatus.DestinationUnreachable, 3, 4)]
    [InlineData(IcmpFamily.IPv4, 11010u, IcmpStatus.TimedOut, -1, -1)]
    [InlineData(IcmpFamily.IPv4, 11013u, IcmpStatus.TimeExceeded, 11, 0)]
    [InlineData(IcmpFamily.IPv4, 11014u, IcmpStatus.TimeExceeded, 11, 1)]
    [InlineData(IcmpFamily.IPv4, 11015u, IcmpStatus.ParameterProblem, 12, 0)]
    [InlineData(IcmpFamily.IPv4, 11016u, IcmpStatus.DestinationUnreachable, 4, 0)]
    [InlineData(IcmpFamily.IPv4, 11001u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv4, 11006u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv4, 11007u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv4, 11008u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv4, 11011u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv4, 11012u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv4, 11018u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv4, 11050u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv4, 11999u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv6, 0u, IcmpStatus.Success, 129, 0)]
    [InlineData(IcmpFamily.IPv6, 11002u, IcmpStatus.DestinationUnreachable, 1, 0)]
    [InlineData(IcmpFamily.IPv6, 11003u, IcmpStatus.DestinationUnreachable, 1, 3)]
    [InlineData(IcmpFamily.IPv6, 11004u, IcmpStatus.DestinationUnreachable, 1, 1)]
    [InlineData(IcmpFamily.IPv6, 11005u, IcmpStatus.DestinationUnreachable, 1, 4)]
    [InlineData(IcmpFamily.IPv6, 11045u, IcmpStatus.DestinationUnreachable, 1, 2)]
    [InlineData(IcmpFamily.IPv6, 11040u, IcmpStatus.DestinationUnreachable, 1, 0)]
    [InlineData(IcmpFamily.IPv6, 11009u, IcmpStatus.PacketTooBig, 2, 0)]
    [InlineData(IcmpFamily.IPv6, 11013u, IcmpStatus.TimeExceeded, 3, 0)]
    [InlineData(IcmpFamily.IPv6, 11041u, IcmpStatus.TimeExceeded, 3, 0)]
    [InlineData(IcmpFamily.IPv6, 11014u, IcmpStatus.TimeExceeded, 3, 1)]
    [InlineData(IcmpFamily.IPv6, 11015u, IcmpStatus.ParameterProblem, 4, 0)]
    [InlineData(IcmpFamily.IPv6, 11042u, IcmpStatus.ParameterProblem, 4, 0)]
    [InlineData(IcmpFamily.IPv6, 11043u, IcmpStatus.ParameterProblem, 4, 1)]
    [InlineData(IcmpFamily.IPv6, 11010u, IcmpStatus.TimedOut, -1, -1)]
    [InlineData(IcmpFamily.IPv6, 11016u, IcmpStatus.SendFailed, -1, -1)]
    [InlineData(IcmpFamily.IPv6, 11050u, IcmpStatus.SendFailed, -1, -1)]
    public void EveryIpStatusMapsToAProbeStatusAndTheIcmpTypeAndCodeItStandsFor(IcmpFamily family, uint ipStatus, IcmpStatus expected,
        int type, int code)
    {
        Assert.Equal(expected, IpStatus.ProbeStatusOf(family, ipStatus));
        var kind = IpStatus.Classify(family, ipStatus, out _, out var actualType, out var actualCode);
        if (type >= 0)
        {
            Assert.Equal(type, actualType);
            Assert.Equal(code, actualCode);
        }
        else
        {
            Assert.NotEqual(IpStatusClass.NetworkError, kind);
            Assert.NotEqual(IpStatusClass.Reply, kind);
        }
    }

    [Fact]
    public void AV4ReplyBufferIsReadAtTheDocumentedOffsets()
    {
        var payload = CookiePayload(0xA1B2C3D4, 42);
        var buffer = V4Reply(0, "127.0.0.1", 3, 64, payload);

        Assert.True(EchoReplyLayout.TryReadV4(buffer, BufferAddress, out var reply));

        Assert.Equal(0u, reply.Status);
        Assert.Equal(IpKey.FromAddress(IPAddress.Loopback), reply.Address);
        Assert.Equal(3u, reply.RoundTripMilliseconds);
        Assert.Equal(64, reply.Ttl);
        Assert.Equal(payload, reply.Data.ToArray());
    }

    [Fact]
    public void AV4DataPointerOutsideTheBufferIsRefusedNotFollowed()
    {
        var payload = CookiePayload(1, 2);
        var buffer = V4Reply(0, "127.0.0.1", 0, 64, payload, baseAddress: BufferAddress);

        Assert.False(EchoReplyLayout.TryReadV4(buffer, BufferAddress + 4096, out _));
        Assert.False(EchoReplyLayout.TryReadV4(buffer, BufferAddress - (ulong)buffer.Length, out _));
        Assert.False(EchoReplyLayout.TryReadV4(buffer.AsSpan(0, EchoReplyLayout.V4ReplySize - 1), BufferAddress, out _));
    }

    [Fact]
    public void AV6ReplyBufferIsReadWithItsPackedAddressAndTheDataAfterTheStructure()
    {
        var payload = CookiePayload(0x01020304, 9);
        var buffer = V6Reply(0, "2001:db8:4::2", 1, payload);

        Assert.True(EchoReplyLayout.TryReadV6(buffer, payload.Length, out var reply));

        Assert.Equal(0u, reply.Status);
        Assert.Equal(IpKey.FromAddress(IPAddress.Parse("2001:db8:4::2")), reply.Address);
        Assert.Equal(1u, reply.RoundTripMilliseconds);
        Assert.Equal(-1, reply.Ttl);
        Assert.Equal(payload, reply.Data.ToArray());
    }

    [Fact]
    public void AV6HopLimitExceededNamesTheRouterAndCarriesNoData()
    {
        var buffer = V6Reply(IpStatus.TtlExpiredTransit, "2001:db8:2::2", 0, []);

        Assert.True(EchoReplyLayout.TryReadV6(buffer, 32, out var reply));

        Assert.Equal(IpStatus.TtlExpiredTransit, reply.Status);
        Assert.Equal(IpKey.FromAddress(IPAddress.Parse("2001:db8:2::2")), reply.Address);
        Assert.True(reply.Data.IsEmpty);
    }

    [Fact]
    public void AReplyEchoingItsOwnCookieBecomesAnEchoReplyForTheRequestedIdentifierAndSequence()
    {
        var payload = CookiePayload(0xCAFE0001, 77);
        var buffer = V4Reply(0, "127.0.0.1", 2, 63, payload);
        Assert.True(EchoReplyLayout.TryReadV4(buffer, BufferAddress, out var reply));
        var request = Request("127.0.0.1");

        var outcome = EchoCompletion.Interpret(IcmpFamily.IPv4, in reply, in request, payload, request.SentTimestamp + (Frequency / 2000),
            Frequency, out var message, out var echoed);

        Assert.Equal(EchoCompletionOutcome.Message, outcome);
        Assert.Equal(IcmpKind.EchoReply, message.Kind);
        Assert.Equal(0x5001, message.Identifier);
        Assert.Equal(7, message.Sequence);
        Assert.True(message.HasCookie);
        Assert.Equal(new ProbeCookie(0xCAFE0001, 77), message.Cookie);
        Assert.Equal(63, message.ReceivedTtl);
        Assert.Equal(8 + payload.Length, message.BytesReceived);
        Assert.Equal(payload, echoed.ToArray());
    }

    [Fact]
    public void AReplyEchoingAnotherCookieIsRejected()
    {
        var sent = CookiePayload(0xCAFE0001, 77);
        var other = CookiePayload(0xCAFE0001, 78);
        var buffer = V4Reply(0, "127.0.0.1", 0, 64, other);
        Assert.True(EchoReplyLayout.TryReadV4(buffer, BufferAddress, out var reply));
        var request = Request("127.0.0.1");

        Assert.Equal(EchoCompletionOutcome.Rejected,
            EchoCompletion.Interpret(IcmpFamily.IPv4, in reply, in request, sent, request.SentTimestamp, Frequency, out _, out _));
    }

    [Fact]
    public void AReplyWithTheRightCookieButOtherBytesOrLengthIsRejected()
    {
        var sent = CookiePayload(5, 6, 40);
        var changed = (byte[])sent.Clone();
        changed[^1] ^= 0xFF;
        var request = Request("127.0.0.1");
        foreach (var echoedBack in new[] { changed, sent[..32] })
        {
            Assert.True(EchoReplyLayout.TryReadV4(V4Reply(0, "127.0.0.1", 0, 64, echoedBack), BufferAddress, out var reply));
            Assert.Equal(EchoCompletionOutcome.Rejected,
                EchoCompletion.Interpret(IcmpFamily.IPv4, in reply, in request, sent, request.SentTimestamp, Frequency, out _, out _));
        }
    }

    [Fact]
    public void ATtlExpiredCompletionIsTimeExceededFromTheRouterWithTheRequestsCookie()
    {
        var sent = CookiePayload(0xBEEF, 3);
        var buffer = V4Reply(IpStatus.TtlExpiredTransit, "198.18.2.2", 0, 0, []);
        Assert.True(EchoReplyLayout.TryReadV4(buffer, BufferAddress, out var reply));
        var request = Request("198.18.4.2");

        var outcome = EchoCompletion.Interpret(IcmpFamily.IPv4, in reply, in request, sent, request.SentTimestamp, Frequency,
            out var message, out var echoed);

        Assert.Equal(EchoCompletionOutcome.Message, outcome);
        Assert.Equal(IcmpKind.TimeExceeded, message.Kind);
        Assert.Equal(11, message.Type);
        Assert.Equal(IpKey.FromAddress(IPAddress.Parse("198.18.2.2")), message.Responder);
        Assert.Equal(request.Destination, message.ProbedDestination);
        Assert.Equal(new ProbeCookie(0xBEEF, 3), message.Cookie);
        Assert.Equal(-1, message.QuotedTtl);
        Assert.True(echoed.IsEmpty);
    }

    [Fact]
    public void ATimedOutCompletionIsNoMessageAndALocalFailureKeepsItsStatusNumber()
    {
        var sent = CookiePayload(1, 1);
        var request = Request("127.0.0.1");
        Assert.True(EchoReplyLayout.TryReadV4(V4Reply(IpStatus.ReqTimedOut, "0.0.0.0", 0, 0, []), BufferAddress, out var timedOut));
        Assert.Equal(EchoCompletionOutcome.NoAnswer,
            EchoCompletion.Interpret(IcmpFamily.IPv4, in timedOut, in request, sent, 0, Frequency, out _, out _));

        Assert.True(EchoReplyLayout.TryReadV4(V4Reply(IpStatus.GeneralFailure, "0.0.0.0", 0, 0, []), BufferAddress, out var failed));
        Assert.Equal(EchoCompletionOutcome.Message,
            EchoCompletion.Interpret(IcmpFamily.IPv4, in failed, in request, sent, 0, Frequency, out var message, out _));
        Assert.Equal(IcmpKind.LocalFailure, message.Kind);
        Assert.Equal((int)IpStatus.GeneralFailure, message.LocalError);
    }

    [Fact]
    public void TheStopwatchRttStandsUnlessALateWakeExceedsIphlpapisOwnMillisecondsPlusOne()
    {
        const long sent = 10_000;
        var quarterMs = Frequency / 4000;
        // A 0.25 ms measure with RoundTripTime 0: the microsecond measure is kept.
        Assert.Equal(sent + quarterMs, EchoCompletion.ArrivalTimestamp(sent, sent + quarterMs, 0, Frequency));
        // Seen 50 ms late while iphlpapi measured 2 ms: bounded to 3 ms.
        Assert.Equal(sent + (3 * Frequency / 1000), EchoCompletion.ArrivalTimestamp(sent, sent + (52 * Frequency / 1000), 2, Frequency));
        // A completion stamped before its send (clock read on another core) is never negative.
        Assert.Equal(sent, EchoCompletion.ArrivalTimestamp(sent, sent - 5, 0, Frequency));
    }

    [Fact]
    public void AddressesAreMarshalledAsIphlpapiTakesThem()
    {
        // IPAddr is the address bytes in memory order: 127.0.0.1 reads as 0x0100007F little-endian.
        Assert.Equal(0x0100007Fu, IpHelperMarshal.IPAddr(IPAddress.Loopback));
        Span<byte> sockaddr = stackalloc byte[IpHelperMarshal.SockaddrIn6Size];
        IpHelperMarshal.WriteSockaddrIn6(sockaddr, IPAddress.Parse("fe80::1%5"));
        Assert.Equal(23, BinaryPrimitives.ReadUInt16LittleEndian(sockaddr));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(sockaddr[2..]));
        Assert.Equal(IPAddress.Parse("fe80::1").GetAddressBytes(), sockaddr.Slice(8, 16).ToArray());
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32LittleEndian(sockaddr[24..]));
    }

    [Fact]
    public void ARequestStaysOpenLongerThanItsProbeWaits()
    {
        Assert.Equal(IpHelperMarshal.DefaultTimeoutMilliseconds, IpHelperMarshal.TimeoutMilliseconds(0, Frequency));
        Assert.Equal(2000 + IpHelperMarshal.TimeoutSlackMilliseconds, IpHelperMarshal.TimeoutMilliseconds(2 * Frequency, Frequency));
        Assert.Equal(int.MaxValue / 2, IpHelperMarshal.TimeoutMilliseconds(long.MaxValue / 2, Frequency));
    }

    [Fact]
    public void OnlyWinesTransientRefusalIsStartedAgainAFewTimes()
    {
        // Under Wine, ERROR_INVALID_PARAMETER on a loaded machine: three more starts, 1, 10 and 50 ms apart.
        Assert.Equal([true, true, true, false],
            Enumerable.Range(0, 4).Select(attempt => RefusalPolicy.ShouldRetry(RefusalPolicy.ErrorInvalidParameter, attempt, underWine: true)));
        Assert.Equal([1, 10, 50], Enumerable.Range(0, 3).Select(RefusalPolicy.Pause));
        // On Windows the same error is the caller's mistake; other refusals (Wine's Icmp6SendEcho2 answers
        // ERROR_CALL_NOT_IMPLEMENTED, 120) would only fail again.
        Assert.False(RefusalPolicy.ShouldRetry(RefusalPolicy.ErrorInvalidParameter, 0, underWine: false));
        Assert.False(RefusalPolicy.ShouldRetry(120, 0, underWine: true));
    }
}
