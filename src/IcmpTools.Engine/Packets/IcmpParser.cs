using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace IcmpTools.Engine.Packets;

/// <summary>
/// Parses what ICMP sockets receive. Hostile input is expected (anything on the network reaches a raw
/// socket): every length is checked against the span, nothing throws, and anything malformed or not an
/// answer to an echo request is refused with false.
/// </summary>
public static class IcmpParser
{
    private const int IcmpHeaderLength = 8;
    private const int IPv4MinHeaderLength = 20;
    private const int IPv6HeaderLength = 40;
    private const int IPv6FragmentHeaderLength = 8;
    private const byte ProtocolIcmp = 1;
    private const byte NextHeaderHopByHop = 0;
    private const byte NextHeaderRouting = 43;
    private const byte NextHeaderFragment = 44;
    private const byte NextHeaderDestinationOptions = 60;
    /// <summary>Extension headers walked in a quote at most: a real chain has a few; a forged loop ends here.</summary>
    private const int MaxQuotedExtensionHeaders = 8;
    private const byte NextHeaderIcmpV6 = 58;

    /// <summary>An IPv4 datagram, header first (Linux raw IPv4 sockets); the ICMP checksum is verified.</summary>
    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseV4(ReadOnlySpan<byte> datagram, out IcmpParseResult result)
    {
        result = default;
        if (!TryReadIPv4IcmpHeader(datagram, out var headerLength, out var totalLength) || totalLength < headerLength)
        {
            return false;
        }
        // The header's total length bounds the message: bytes past it are not ours to read. A datagram
        // longer than the span was cut by the receive buffer, and a cut message's checksum cannot be checked.
        var truncated = totalLength > datagram.Length;
        var message = truncated ? datagram[headerLength..] : datagram[headerLength..totalLength];
        if (!truncated && InternetChecksum.Compute(message) != 0)
        {
            return false;
        }
        if (!TryParseV4Icmp(message, out result))
        {
            return false;
        }
        result.Ttl = datagram[8];
        if (result.Kind is IcmpKind.EchoReply or IcmpKind.EchoRequest)
        {
            result.PayloadOffset += headerLength;
        }
        return true;
    }

    /// <summary>An ICMP message without IP header (Linux ping sockets); the kernel checked the checksum.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseV4Icmp(ReadOnlySpan<byte> message, out IcmpParseResult result)
    {
        if (!TryReadHeader(message, out result))
        {
            return false;
        }
        var quoted = message[IcmpHeaderLength..];
        switch (result.Type)
        {
            case IcmpTypes.V4EchoReply:
                result.Kind = IcmpKind.EchoReply;
                ReadEcho(message, ref result);
                return true;
            case IcmpTypes.V4EchoRequest:
                result.Kind = IcmpKind.EchoRequest;
                ReadEcho(message, ref result);
                return true;
            case IcmpTypes.V4DestinationUnreachable:
                result.Kind = IcmpKind.DestinationUnreachable;
                if (result.Code == 4)
                {
                    // Fragmentation needed (RFC 1191): the next-hop MTU sits in the header's last two bytes.
                    result.Mtu = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
                }
                return ReadQuotedV4(quoted, ref result);
            case IcmpTypes.V4TimeExceeded:
                result.Kind = IcmpKind.TimeExceeded;
                return ReadQuotedV4(quoted, ref result);
            case IcmpTypes.V4ParameterProblem:
                result.Kind = IcmpKind.ParameterProblem;
                result.Pointer = message[4];
                return ReadQuotedV4(quoted, ref result);
            default:
                return false;
        }
    }

    /// <summary>An ICMPv6 message (Linux raw ICMPv6 sockets give no IP header; the kernel checked the checksum).</summary>
    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryParseV6(ReadOnlySpan<byte> message, out IcmpParseResult result)
    {
        if (!TryReadHeader(message, out result))
        {
            return false;
        }
        var quoted = message[IcmpHeaderLength..];
        switch (result.Type)
        {
            case IcmpTypes.V6EchoReply:
                result.Kind = IcmpKind.EchoReply;
                ReadEcho(message, ref result);
                return true;
            case IcmpTypes.V6EchoRequest:
                result.Kind = IcmpKind.EchoRequest;
                ReadEcho(message, ref result);
                return true;
            case IcmpTypes.V6DestinationUnreachable:
                result.Kind = IcmpKind.DestinationUnreachable;
                return ReadQuotedV6(quoted, ref result);
            case IcmpTypes.V6PacketTooBig:
                result.Kind = IcmpKind.PacketTooBig;
                result.Mtu = ReadInt32Saturated(message[4..]);
                return ReadQuotedV6(quoted, ref result);
            case IcmpTypes.V6TimeExceeded:
                result.Kind = IcmpKind.TimeExceeded;
                return ReadQuotedV6(quoted, ref result);
            case IcmpTypes.V6ParameterProblem:
                result.Kind = IcmpKind.ParameterProblem;
                result.Pointer = ReadInt32Saturated(message[4..]);
                return ReadQuotedV6(quoted, ref result);
            default:
                return false;
        }
    }

    /// <summary>The type, code and length every ICMP and ICMPv6 message starts with.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryReadHeader(ReadOnlySpan<byte> message, out IcmpParseResult result)
    {
        result = default;
        result.Ttl = -1;
        result.QuotedTtl = -1;
        result.Pointer = -1;
        if (message.Length < IcmpHeaderLength)
        {
            return false;
        }
        result.Type = message[0];
        result.Code = message[1];
        result.IcmpLength = message.Length;
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ReadEcho(ReadOnlySpan<byte> message, ref IcmpParseResult result)
    {
        result.Identifier = BinaryPrimitives.ReadUInt16BigEndian(message[4..]);
        result.Sequence = BinaryPrimitives.ReadUInt16BigEndian(message[6..]);
        result.PayloadOffset = IcmpHeaderLength;
        result.PayloadLength = message.Length - IcmpHeaderLength;
        result.HasCookie = ProbeCookie.TryRead(message[IcmpHeaderLength..], out result.Cookie);
    }

    /// <summary>
    /// Checks an IPv4 header (outer or quoted) that should carry the start of an ICMP message. Never
    /// assumes 20 bytes: options make it up to 60. A fragment other than the first holds no ICMP header.
    /// </summary>
    private static bool TryReadIPv4IcmpHeader(ReadOnlySpan<byte> datagram, out int headerLength, out int totalLength)
    {
        headerLength = 0;
        totalLength = 0;
        if (datagram.Length < IPv4MinHeaderLength || (datagram[0] >> 4) != 4)
        {
            return false;
        }
        headerLength = (datagram[0] & 0x0F) * 4;
        totalLength = BinaryPrimitives.ReadUInt16BigEndian(datagram[2..]);
        var fragmentOffset = BinaryPrimitives.ReadUInt16BigEndian(datagram[6..]) & 0x1FFF;
        return headerLength >= IPv4MinHeaderLength && headerLength <= datagram.Length
            && fragmentOffset == 0 && datagram[9] == ProtocolIcmp;
    }

    /// <summary>The original datagram an ICMPv4 error quotes: it must be one of our echo requests.</summary>
    private static bool ReadQuotedV4(ReadOnlySpan<byte> quoted, ref IcmpParseResult result)
    {
        if (!TryReadIPv4IcmpHeader(quoted, out var headerLength, out var totalLength))
        {
            return false;
        }
        result.QuotedDestination = IpKey.FromV4(quoted.Slice(16, 4));
        result.QuotedTtl = quoted[8];
        // RFC 4884 pads the quote (to 128 bytes) before its extensions, so bytes past the original's own
        // length are not its payload: read as a cookie, they would hide a short probe's error. A length
        // too small to be any echo request is some stack's mangling and is not trusted to cut with.
        var end = totalLength >= headerLength + IcmpHeaderLength && totalLength < quoted.Length ? totalLength : quoted.Length;
        return ReadQuotedEcho(quoted[headerLength..end], IcmpTypes.V4EchoRequest, ref result);
    }

    /// <summary>The original datagram an ICMPv6 error quotes: it must be one of our echo requests.</summary>
    private static bool ReadQuotedV6(ReadOnlySpan<byte> quoted, ref IcmpParseResult result)
    {
        if (quoted.Length < IPv6HeaderLength || (quoted[0] >> 4) != 6)
        {
            return false;
        }
        result.QuotedDestination = IpKey.FromV6(quoted.Slice(24, 16));
        result.QuotedTtl = quoted[7];
        // The payload length bounds the quote for the same reason as IPv4's total length; 0 is a jumbogram.
        var payloadLength = BinaryPrimitives.ReadUInt16BigEndian(quoted[4..]);
        if (payloadLength >= IcmpHeaderLength && IPv6HeaderLength + payloadLength < quoted.Length)
        {
            quoted = quoted[..(IPv6HeaderLength + payloadLength)];
        }
        var nextHeader = quoted[6];
        var echo = quoted[IPv6HeaderLength..];
        // Extension headers may stand before the echo request: the kernel's Fragment header on a probe larger
        // than the path MTU, a Hop-by-Hop, Routing or Destination Options header some hop or host added.
        for (var headers = 0; nextHeader != NextHeaderIcmpV6; headers++)
        {
            if (headers == MaxQuotedExtensionHeaders || echo.Length < 8)
            {
                return false;
            }
            int length;
            if (nextHeader == NextHeaderFragment)
            {
                // Only the first fragment carries the ICMPv6 header.
                if ((BinaryPrimitives.ReadUInt16BigEndian(echo[2..]) & 0xFFF8) != 0)
                {
                    return false;
                }
                length = IPv6FragmentHeaderLength;
            }
            else if (nextHeader is NextHeaderHopByHop or NextHeaderRouting or NextHeaderDestinationOptions)
            {
                length = (echo[1] + 1) * 8;
            }
            else
            {
                return false;
            }
            if (length > echo.Length)
            {
                return false;
            }
            nextHeader = echo[0];
            echo = echo[length..];
        }
        return ReadQuotedEcho(echo, IcmpTypes.V6EchoRequest, ref result);
    }

    private static bool ReadQuotedEcho(ReadOnlySpan<byte> echo, byte requestType, ref IcmpParseResult result)
    {
        // RFC 792 guarantees 8 bytes of the original payload: the echo header. The cookie is a bonus, and
        // an error about anyone's traffic but an echo request (a reply, UDP, TCP) is not about our probe.
        if (echo.Length < IcmpHeaderLength || echo[0] != requestType)
        {
            return false;
        }
        result.Identifier = BinaryPrimitives.ReadUInt16BigEndian(echo[4..]);
        result.Sequence = BinaryPrimitives.ReadUInt16BigEndian(echo[6..]);
        result.HasCookie = ProbeCookie.TryRead(echo[IcmpHeaderLength..], out result.Cookie);
        return true;
    }

    private static int ReadInt32Saturated(ReadOnlySpan<byte> source) =>
        (int)Math.Min(int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(source));
}
