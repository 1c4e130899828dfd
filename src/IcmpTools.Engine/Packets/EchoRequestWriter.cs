using System.Buffers.Binary;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Packets;

/// <summary>Writes ICMP / ICMPv6 echo requests straight into a send buffer.</summary>
public static class EchoRequestWriter
{
    public const int HeaderSize = 8;

    /// <summary>
    /// Writes the 8-byte header and the payload: the explicit bytes when asked, else the cookie followed by
    /// the fill pattern iputils ping uses (byte i = i). IPv4 gets its checksum; IPv6 leaves 0, since the
    /// kernel computes ICMPv6 checksums on raw sockets (it needs the pseudo-header's addresses).
    /// </summary>
    public static int Write(Span<byte> destination, IcmpFamily family, ushort identifier, ushort sequence,
        ProbeCookie cookie, int payloadSize, ReadOnlySpan<byte> explicitPayload, bool useExplicitPayload)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadSize);
        var length = HeaderSize + (useExplicitPayload ? explicitPayload.Length : payloadSize);
        if (destination.Length < length)
        {
            throw new ArgumentException($"The buffer holds {destination.Length} bytes; the echo request needs {length}.", nameof(destination));
        }
        var packet = destination[..length];
        packet[0] = family == IcmpFamily.IPv4 ? IcmpTypes.V4EchoRequest : IcmpTypes.V6EchoRequest;
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
            for (var i = ProbeCookie.Size; i < payload.Length; i++)
            {
                payload[i] = (byte)i;
            }
            cookie.WriteTo(payload);
        }
        if (family == IcmpFamily.IPv4)
        {
            BinaryPrimitives.WriteUInt16BigEndian(packet[2..], InternetChecksum.Compute(packet));
        }
        return length;
    }
}
