using System.Runtime.CompilerServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// Turns what a raw ICMP socket reads into the normalised message: IPv4 datagrams arrive with their IP
/// header (Linux raw IPv4), ICMPv6 messages without one. The fake network of the tests frames its
/// packets the same way, so it runs this very code.
/// </summary>
internal static class RawFraming
{
    /// <summary>Parses one datagram; false for anything that is not an answer a probe could be waiting for.</summary>
    /// <param name="data">The bytes read (possibly cut to the buffer).</param>
    /// <param name="fullLength">The datagram's real length.</param>
    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryRead(IcmpFamily family, ReadOnlySpan<byte> data, int fullLength, scoped in IpKey source, int hopLimit,
        long kernelRealtimeNs, long receivedTimestamp, out IcmpMessage message, out ReadOnlySpan<byte> echoedPayload)
    {
        message = default;
        echoedPayload = default;
        IcmpParseResult parsed;
        var ok = family == IcmpFamily.IPv4 ? IcmpParser.TryParseV4(data, out parsed) : IcmpParser.TryParseV6(data, out parsed);
        if (!ok || parsed.Kind is IcmpKind.EchoRequest or IcmpKind.Unknown)
        {
            // Our own requests (seen on loopback) and anything else are not answers.
            return false;
        }
        message.Kind = parsed.Kind;
        message.Type = parsed.Type;
        message.Code = parsed.Code;
        message.Responder = source;
        message.ProbedDestination = parsed.Kind == IcmpKind.EchoReply ? source : parsed.QuotedDestination;
        message.Identifier = parsed.Identifier;
        message.Sequence = parsed.Sequence;
        message.HasCookie = parsed.HasCookie;
        message.Cookie = parsed.Cookie;
        message.ReceivedTtl = parsed.Ttl >= 0 ? parsed.Ttl : hopLimit;
        message.QuotedTtl = parsed.Kind == IcmpKind.EchoReply ? -1 : parsed.QuotedTtl;
        message.Mtu = parsed.Mtu;
        message.Pointer = parsed.Pointer;
        message.KernelRealtimeNs = kernelRealtimeNs;
        message.ReceivedTimestamp = receivedTimestamp;
        // The ICMP part of what arrived: the datagram less its IP header (the parse saw the whole header).
        message.BytesReceived = parsed.Kind == IcmpKind.EchoReply ? fullLength - (data.Length - parsed.IcmpLength) : parsed.IcmpLength;
        if (parsed.Kind == IcmpKind.EchoReply)
        {
            echoedPayload = data.Slice(parsed.PayloadOffset, parsed.PayloadLength);
        }
        else if (IcmpExtensionParser.MayCarryExtensions(family, parsed.Type))
        {
            // The ICMP message within what was read: IPv4 datagrams start with their header (its length checked by the parse).
            var start = family == IcmpFamily.IPv4 ? (data[0] & 0x0F) * 4 : 0;
            message.Extensions = IcmpExtensionParser.Parse(data.Slice(start, parsed.IcmpLength), family);
        }
        return true;
    }
}
