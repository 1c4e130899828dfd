using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace IcmpTools.Engine.Packets;

/// <summary>
/// The 8 bytes at the start of every probe's payload: the prober's random session key and the probe's
/// serial. Echoed back by the target and quoted by routers, it ties an answer to exactly one probe even
/// when identifiers and sequence numbers repeat.
/// </summary>
public readonly record struct ProbeCookie(uint Session, uint Serial)
{
    public const int Size = 8;

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    /// <summary>Writes the cookie, cut to the destination's length when the payload is shorter than 8 bytes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void WriteTo(Span<byte> destination)
    {
        Span<byte> bytes = stackalloc byte[Size];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, Session);
        BinaryPrimitives.WriteUInt32BigEndian(bytes[4..], Serial);
        bytes[..Math.Min(Size, destination.Length)].CopyTo(destination);
    }

    /// <summary>Reads a whole cookie; a cut one (fewer than 8 bytes) identifies nothing and is refused.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static bool TryRead(ReadOnlySpan<byte> source, out ProbeCookie cookie)
    {
        if (source.Length < Size)
        {
            cookie = default;
            return false;
        }
        cookie = new ProbeCookie(BinaryPrimitives.ReadUInt32BigEndian(source), BinaryPrimitives.ReadUInt32BigEndian(source[4..]));
        return true;
    }
}
