using System.Buffers.Binary;
using System.Runtime.CompilerServices;

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
        // One's-complement addition is associative and commutative, so summing 64-bit words with the
        // carry wrapped back in (RFC 1071 section 2(B)) folds down to the same 16-bit sum.
        ulong sum = 0;
        while (data.Length >= 8)
        {
            var word = BinaryPrimitives.ReadUInt64BigEndian(data);
            sum += word;
            if (sum < word)
            {
                sum++;
            }
            data = data[8..];
        }
        // Folded to 33 bits, the sum has room for the last few words without another carry check.
        sum = (sum >> 32) + (uint)sum;
        while (data.Length >= 2)
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
            sum = (sum >> 16) + (sum & 0xFFFF);
        }
        return (ushort)~sum;
    }
}
