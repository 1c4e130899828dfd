using System.Buffers.Binary;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Packets;

/// <summary>Writes ICMP / ICMPv6 echo requests straight into a send buffer.</summary>
public static class EchoRequestWriter
{
    public const int HeaderSize = 8;

    /// <summary>
    /// Writes the 8-byte header and the payload: the explicit bytes when asked, else the cookie followed by
    /// the fill pattern iputils ping uses (payload byte i = i). IPv4 gets its checksum; IPv6 leaves 0, since
    /// the kernel computes ICMPv6 checksums on raw sockets (it needs the pseudo-header's addresses).
    /// </summary>
    /// <returns>The bytes written: header and payload.</returns>
    public static int Write(Span<byte> destination, IcmpFamily family, ushort identifier, ushort sequence,
        ProbeCookie cookie, int payloadSize, ReadOnlySpan<byte> explicitPayload, bool useExplicitPayload)
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
        if (family == IcmpFamily.IPv4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet[2..], InternetChecksum.Compute(packet));
        }
        return packet.Length;
    }
}
