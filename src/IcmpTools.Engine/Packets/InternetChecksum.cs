using System.Runtime.CompilerServices;
using System.Buffers.Binary;

namespace IcmpTools.Engine.Packets;

/// <summary>The Internet checksum (RFC 1071): one's-complement sum of 16-bit big-endian words.</summary>
public static class InternetChecksum
{
    /// <summary>
    /// The checksum to store big-endian in the checksum field. An odd trailing byte is padded with zero on
    /// the right. Over a message whose checksum field already holds the right value, the result is 0.
    /// </summary>
    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static ushort Compute(ReadOnlySpan<byte> data)
    {
        ulong sum = 0;
        // Sum 32 bits at a time into 64: carries accumulate above bit 32 and fold at the end.
        while (data.Length >= 4)
        {
            sum += BinaryPrimitives.ReadUInt32BigEndian(data);
            data = data[4..];
        }
        if (data.Length >= 2)
        {
            sum += BinaryPrimitives.ReadUInt16BigEndian(data);
            data = data[2..];
        }
        if (data.Length == 1)
        {
            sum += (uint)data[0] << 8;
        }
        while ((sum >> 16) != 0)
        {
            sum = (sum & 0xFFFF) + (sum >> 16);
        }
        return (ushort)~sum;
    }
}
