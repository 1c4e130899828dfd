using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// Turns what a Linux datagram ICMP socket reads into the normalised message. Echo replies arrive as ICMP
/// messages without IP header. ICMP errors arrive only through the error queue: the kernel has already
/// matched them to the socket and hands back the request as it was sent (echo header with the kernel's
/// identifier, then the payload with its cookie), the original destination, and in sock_extended_err the
/// error's type, code, info (MTU or pointer) and sender. What such a socket cannot know is said as unknown:
/// the quoted TTL is -1, and the error's own size is 0 (only the request comes back).
/// </summary>
internal static class DatagramFraming
{
    private const int EchoHeaderLength = 8;
    private const int QuotedIPv4HeaderLength = 20;
    private const int QuotedIPv6HeaderLength = 40;

    /// <summary>An echo reply read as a datagram; false for anything else (the kernel delivers only replies).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryReadReply(IcmpFamily family, ReadOnlySpan<byte> data, int fullLength, in IpKey source, int ttl,
        long kernelRealtimeNs, long receivedTimestamp, out IcmpMessage message, out ReadOnlySpan<byte> echoedPayload)
    {
        message = default;
        echoedPayload = default;
        IcmpParseResult parsed;
        var ok = family == IcmpFamily.IPv4 ? IcmpParser.TryParseV4Icmp(data, out parsed) : IcmpParser.TryParseV6(data, out parsed);
        if (!ok || parsed.Kind != IcmpKind.EchoReply)
        {
            return false;
        }
        message.Kind = IcmpKind.EchoReply;
        message.Type = parsed.Type;
        message.Code = parsed.Code;
        message.Responder = source;
        message.ProbedDestination = source;
        message.Identifier = parsed.Identifier;
        message.Sequence = parsed.Sequence;
        message.HasCookie = parsed.HasCookie;
        message.Cookie = parsed.Cookie;
        message.ReceivedTtl = ttl;
        message.QuotedTtl = -1;
        message.Mtu = 0;
        message.Pointer = -1;
        message.KernelRealtimeNs = kernelRealtimeNs;
        message.ReceivedTimestamp = receivedTimestamp;
        message.BytesReceived = fullLength;
        echoedPayload = data.Slice(parsed.PayloadOffset, parsed.PayloadLength);
        return true;
    }

    /// <summary>
    /// One error-queue entry: <paramref name="request"/> is the echo request the kernel returned,
    /// <paramref name="probed"/> its destination (msg_name). False for errors that answer no probe
    /// (redirects, source quench) and for a returned packet that is not one of our echo requests.
    /// </summary>
    public static bool TryReadError(IcmpFamily family, ReadOnlySpan<byte> request, in DatagramControl error, in IpKey probed,
        long receivedTimestamp, out IcmpMessage message)
    {
        message = default;
        if (!error.HasIcmpError || request.Length < EchoHeaderLength
            || request[0] != (family == IcmpFamily.IPv4 ? IcmpTypes.V4EchoRequest : IcmpTypes.V6EchoRequest))
        {
            return false;
        }
        message.Mtu = 0;
        message.Pointer = -1;
        var info = (int)Math.Min(error.Info, int.MaxValue);
        switch (family, error.Type)
        {
            case (IcmpFamily.IPv4, IcmpTypes.V4DestinationUnreachable):
                message.Kind = IcmpKind.DestinationUnreachable;
                if (error.Code == 4)
                {
                    message.Mtu = info;
                }
                break;
            case (IcmpFamily.IPv4, IcmpTypes.V4TimeExceeded):
            case (IcmpFamily.IPv6, IcmpTypes.V6TimeExceeded):
                message.Kind = IcmpKind.TimeExceeded;
                break;
            case (IcmpFamily.IPv4, IcmpTypes.V4ParameterProblem):
            case (IcmpFamily.IPv6, IcmpTypes.V6ParameterProblem):
                message.Kind = IcmpKind.ParameterProblem;
                message.Pointer = info;
                break;
            case (IcmpFamily.IPv6, IcmpTypes.V6DestinationUnreachable):
                message.Kind = IcmpKind.DestinationUnreachable;
                break;
            case (IcmpFamily.IPv6, IcmpTypes.V6PacketTooBig):
                message.Kind = IcmpKind.PacketTooBig;
                message.Mtu = info;
                break;
            default:
                return false;
        }
        message.Type = error.Type;
        message.Code = error.Code;
        message.Responder = error.Offender;
        message.ProbedDestination = probed;
        message.Identifier = BinaryPrimitives.ReadUInt16BigEndian(request[4..]);
        message.Sequence = BinaryPrimitives.ReadUInt16BigEndian(request[6..]);
        message.HasCookie = ProbeCookie.TryRead(request[EchoHeaderLength..], out message.Cookie);
        message.ReceivedTtl = error.Ttl;
        message.QuotedTtl = -1;
        message.KernelRealtimeNs = error.KernelRealtimeNs;
        message.ReceivedTimestamp = receivedTimestamp;
        message.BytesReceived = 0;
        if (IcmpExtensionParser.MayCarryExtensions(family, error.Type))
        {
            // The kernel returns the error from the quoted ICMP header on, extensions included: only the quoted IP
            // header is gone (20 or 40 bytes: our probes carry no options or extension headers).
            message.Extensions = IcmpExtensionParser.ParseQuoted(request, error.ExtensionOffset,
                family == IcmpFamily.IPv4 ? QuotedIPv4HeaderLength : QuotedIPv6HeaderLength);
        }
        return true;
    }
}
