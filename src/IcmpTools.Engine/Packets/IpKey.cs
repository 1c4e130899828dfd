using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Packets;

/// <summary>
/// An IP address as two integers, compared and copied without allocation on the hot path. IPv4 is kept
/// in its IPv4-mapped IPv6 form (::ffff:a.b.c.d) so the two families never collide.
/// </summary>
public readonly record struct IpKey(ulong Hi, ulong Lo)
{
    private const ulong V4MappedPrefix = 0x0000_FFFF_0000_0000UL;

    public static IpKey FromV4(ReadOnlySpan<byte> address) =>
        new(0, V4MappedPrefix | BinaryPrimitives.ReadUInt32BigEndian(address));

    public static IpKey FromV6(ReadOnlySpan<byte> address) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(address), BinaryPrimitives.ReadUInt64BigEndian(address[8..]));

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static IpKey FromAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out var length);
        return address.AddressFamily == AddressFamily.InterNetwork ? FromV4(bytes[..length]) : FromV6(bytes);
    }

    /// <summary>The address as the given family reads it; allocates, so it stays off the hot path.</summary>
    public IPAddress ToAddress(IcmpFamily family)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (family == IcmpFamily.IPv4)
        {
            BinaryPrimitives.WriteUInt32BigEndian(bytes, (uint)Lo);
            return new IPAddress(bytes[..4]);
        }
        BinaryPrimitives.WriteUInt64BigEndian(bytes, Hi);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], Lo);
        return new IPAddress(bytes);
    }
}
