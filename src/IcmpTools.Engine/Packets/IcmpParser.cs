using System.Runtime.CompilerServices;
using System.Buffers.Binary;

namespace IcmpTools.Engine.Packets;

/// <summary>
/// Parses what ICMP sockets receive. Hostile input is expected (anything on the network reaches a raw
/// socket): every length is checked against the span, nothing throws, and anything malformed or not an
/// answer to an echo request is refused with false.
/// </summary>
public static class IcmpParser
{
    private const int IPv4MinHeader = 20;
    private const int IPv6Header = 40;
    private const byte ProtocolIcmp = 1;
    private const byte NextHeaderIcmpV6 = 58;

    /// <summary>An IPv4 datagram, header first (Linux raw IPv4 sockets); the ICMP checksum is verified.</summary>
    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseV4(ReadOnlySpan<byte> datagram, out IcmpParseResult result)
    {
        result = default;
        if (!TryReadIPv4Header(datagram, out var headerLength, out var protocol) || protocol != ProtocolIcmp)
        {
            return false;
        }
        // The header's total length bounds the message; a span longer than it carries trailing junk.
        var totalLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        var end = totalLength >= headerLength && totalLength < datagram.Length ? totalLength : datagram.Length;
        var message = datagram[headerLength..end];
        if (message.Length < 8 || InternetChecksum.Compute(message) != 0)
        {
            return false;
        }
        if (!TryParseV4Icmp(message, out result))
        {
            return false;
        }
        result.Ttl = datagram[8];
        result.PayloadOffset += headerLength;
        return true;
    }

    /// <summary>An ICMP message without IP header (Linux ping sockets); the kernel checked the checksum.</summary>
    public static bool TryParseV4Icmp(ReadOnlySpan<byte> message, out IcmpParseResult result)
    {
        result = default;
        result.Ttl = -1;
        if (message.Length < 8)
        {
            return false;
        }
        result.Type = message[0];
        result.Code = message[1];
        result.IcmpLength = message.Length;
        switch (result.Type)
        {
            case IcmpTypes.V4EchoReply:
            case IcmpTypes.V4EchoRequest:
                result.Kind = result.Type == IcmpTypes.V4EchoReply ? IcmpKind.EchoReply : IcmpKind.EchoRequest;
                ReadEcho(message, ref result);
                return true;
            case IcmpTypes.V4DestinationUnreachable:
                result.Kind = IcmpKind.DestinationUnreachable;
                if (result.Code == 4)
                {
                    result.Mtu = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
                }
                return ReadQuotedV4(message[8..], ref result);
            case IcmpTypes.V4TimeExceeded:
                result.Kind = IcmpKind.TimeExceeded;
                return ReadQuotedV4(message[8..], ref result);
            case IcmpTypes.V4ParameterProblem:
                result.Kind = IcmpKind.ParameterProblem;
                result.Pointer = message[4];
                return ReadQuotedV4(message[8..], ref result);
            default:
                return false;
        }
    }

    /// <summary>An ICMPv6 message (Linux raw ICMPv6 sockets give no IP header; the kernel checked the checksum).</summary>
    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseV6(ReadOnlySpan<byte> message, out IcmpParseResult result)
    {
        result = default;
        result.Ttl = -1;
        if (message.Length < 8)
        {
            return false;
        }
        result.Type = message[0];
        result.Code = message[1];
        result.IcmpLength = message.Length;
        switch (result.Type)
        {
            case IcmpTypes.V6EchoReply:
            case IcmpTypes.V6EchoRequest:
                result.Kind = result.Type == IcmpTypes.V6EchoReply ? IcmpKind.EchoReply : IcmpKind.EchoRequest;
                ReadEcho(message, ref result);
                return true;
            case IcmpTypes.V6DestinationUnreachable:
                result.Kind = IcmpKind.DestinationUnreachable;
                return ReadQuotedV6(message[8..], ref result);
            case IcmpTypes.V6PacketTooBig:
                result.Kind = IcmpKind.PacketTooBig;
                result.Mtu = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(message[4..]));
                return ReadQuotedV6(message[8..], ref result);
            case IcmpTypes.V6TimeExceeded:
                result.Kind = IcmpKind.TimeExceeded;
                return ReadQuotedV6(message[8..], ref result);
            case IcmpTypes.V6ParameterProblem:
                result.Kind = IcmpKind.ParameterProblem;
                result.Pointer = (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(message[4..]));
                return ReadQuotedV6(message[8..], ref result);
            default:
                return false;
        }
    }

    private static void ReadEcho(ReadOnlySpan<byte> message, ref IcmpParseResult result)
    {
        result.Identifier = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        result.Sequence = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        result.PayloadOffset = 8;
        result.PayloadLength = message.Length - 8;
        result.HasCookie = ProbeCookie.TryRead(message[8..], out result.Cookie);
    }

    private static bool TryReadIPv4Header(ReadOnlySpan<byte> datagram, out int headerLength, out byte protocol)
    {
        headerLength = 0;
        protocol = 0;
        if (datagram.Length < IPv4MinHeader || (datagram[0] >> 4) != 4)
        {
            return false;
        }
        // Never assume 20 bytes: options make the header up to 60.
        headerLength = (datagram[0] & 0x0F) * 4;
        if (headerLength < IPv4MinHeader || headerLength > datagram.Length)
        {
            return false;
        }
        protocol = datagram[9];
        return true;
    }

    /// <summary>The original datagram an ICMPv4 error quotes: it must be one of our echo requests.</summary>
    private static bool ReadQuotedV4(ReadOnlySpan<byte> quoted, ref IcmpParseResult result)
    {
        if (!TryReadIPv4Header(quoted, out var headerLength, out var protocol) || protocol != ProtocolIcmp)
        {
            return false;
        }
        result.QuotedDestination = IpKey.FromV4(quoted.Slice(16, 4));
        return ReadQuotedEcho(quoted[headerLength..], IcmpTypes.V4EchoRequest, ref result);
    }

    private static bool ReadQuotedV6(ReadOnlySpan<byte> quoted, ref IcmpParseResult result)
    {
        if (quoted.Length < IPv6Header || (quoted[0] >> 4) != 6 || quoted[6] != NextHeaderIcmpV6)
        {
            return false;
        }
        result.QuotedDestination = IpKey.FromV6(quoted.Slice(24, 16));
        return ReadQuotedEcho(quoted[IPv6Header..], IcmpTypes.V6EchoRequest, ref result);
    }

    private static bool ReadQuotedEcho(ReadOnlySpan<byte> echo, byte requestType, ref IcmpParseResult result)
    {
        // RFC 792 guarantees 8 bytes of the original payload: the echo header. The cookie is a bonus.
        if (echo.Length < 8 || echo[0] != requestType)
        {
            return false;
        }
        result.Identifier = BinaryPrimitives.ReadUInt16BigEndian(echo[4..]);
        result.Sequence = BinaryPrimitives.ReadUInt16BigEndian(echo[6..]);
        result.HasCookie = ProbeCookie.TryRead(echo[8..], out result.Cookie);
        return true;
    }
}
