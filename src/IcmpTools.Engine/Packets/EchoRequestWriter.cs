using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Packets;

/// <summary>Writes ICMP / ICMPv6 echo requests straight into a send buffer.</summary>
public static class EchoRequestWriter
{
    public const int HeaderSize = 8;

    /// <summary>Where flow-stable probes keep the two bytes that hold their sum: right after the cookie, on a 16-bit boundary.</summary>
    public const int SumCompensationOffset = HeaderSize + ProbeCookie.Size;

    /// <summary>The smallest cookie payload that can hold its sum: the cookie and the two compensation bytes.</summary>
    public const int MinHeldSumPayload = ProbeCookie.Size + 2;

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    /// <summary>
    /// Writes the 8-byte header and the payload: the explicit bytes when asked, else the cookie followed by
    /// the fill pattern iputils ping uses (payload byte i = i). IPv4 gets its checksum; IPv6 leaves 0, since
    /// the kernel computes ICMPv6 checksums on raw sockets (it needs the pseudo-header's addresses).
    /// </summary>
    /// <param name="heldSum">
    /// Flow-stable probing (Paris traceroute): when not -1, two payload bytes after the cookie are chosen so
    /// the message's one's-complement sum (checksum field zero) equals this value whatever the cookie and
    /// sequence. Per-flow load balancers hash the first four ICMP bytes, checksum included, so every probe of
    /// a flow then takes one path; for IPv6 the kernel adds a pseudo-header that is constant for the flow.
    /// Needs a cookie payload of at least <see cref="MinHeldSumPayload"/> bytes.
    /// </param>
    /// <returns>The bytes written: header and payload.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static int Write(Span<byte> destination, IcmpFamily family, ushort identifier, ushort sequence,
        ProbeCookie cookie, int payloadSize, ReadOnlySpan<byte> explicitPayload, bool useExplicitPayload, int heldSum = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadSize);
        var type = family switch
        {
            IcmpFamily.IPv4 => IcmpTypes.V4EchoRequest,
            IcmpFamily.IPv6 => IcmpTypes.V6EchoRequest,
            _ => throw new ArgumentOutOfRangeException(nameof(family), family, null),
        };
        var payloadLength = useExplicitPayload ? explicitPayload.Length : payloadSize;
        // Compared this way round so a payload size near int.MaxValue cannot overflow the sum.
        if (destination.Length - HeaderSize < payloadLength)
        {
            throw new ArgumentException(
                $"The buffer holds {destination.Length} bytes; the echo request needs {HeaderSize} + {payloadLength}.",
                nameof(destination));
        }

        var packet = destination[..(HeaderSize + payloadLength)];
        packet[0] = type;
        packet[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(packet[2..], 0);
        BinaryPrimitives.WriteUInt16BigEndian(packet[4..], identifier);
        BinaryPrimitives.WriteUInt16BigEndian(packet[6..], sequence);
        var payload = packet[HeaderSize..];
        if (useExplicitPayload)
        {
            explicitPayload.CopyTo(payload);
        }
        else
        {
            cookie.WriteTo(payload);
            for (var i = ProbeCookie.Size; i < payload.Length; i++)
            {
                payload[i] = (byte)i;
            }
        }
        if (heldSum >= 0)
        {
            if (useExplicitPayload || payloadLength < MinHeldSumPayload)
            {
                throw new ArgumentException($"Holding the checksum needs a cookie payload of at least {MinHeldSumPayload} bytes.", nameof(heldSum));
            }
            packet.Slice(SumCompensationOffset, 2).Clear();
            // Compute returns ~sum; the word that brings sum to target is target - sum in one's complement.
            var sum = (ushort)~InternetChecksum.Compute(packet);
            var compensation = OnesComplementAdd((ushort)heldSum, (ushort)~sum);
            BinaryPrimitives.WriteUInt16BigEndian(packet[SumCompensationOffset..], compensation);
        }
        if (family == IcmpFamily.IPv4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet[2..], InternetChecksum.Compute(packet));
        }
        return packet.Length;
    }

    private static ushort OnesComplementAdd(ushort a, ushort b)
    {
        var sum = (uint)a + b;
        return (ushort)((sum & 0xFFFF) + (sum >> 16));
    }
}
