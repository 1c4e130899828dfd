using System.Buffers.Binary;
using System.Runtime.InteropServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets.Windows;

/// <summary>WSABUF (ws2def.h): a length, then the buffer pointer at its natural alignment.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct WsaBuf
{
    public uint Length;
    public byte* Buffer;
}

/// <summary>
/// WSAMSG (ws2def.h), x64: name @0, namelen @8, lpBuffers @16, dwBufferCount @24, Control (WSABUF) @32,
/// dwFlags @48; 56 bytes. WSARecvMsg writes the sender's address into name (namelen: its length), the control
/// messages into Control (Control.len: their length) and MSG_CTRUNC / MSG_TRUNC into dwFlags.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct WsaMsg
{
    public byte* Name;
    public int NameLength;
    public WsaBuf* Buffers;
    public uint BufferCount;
    public WsaBuf Control;
    public uint Flags;
}

/// <summary>
/// What WSARecvMsg hands back on a raw ICMP socket, read from bytes: the sender's SOCKADDR, the WSACMSGHDR
/// control messages and the datagram itself, so every layout here is tested on any platform with recorded
/// buffers (Wine 8 opens no raw ICMPv6 socket, so its IPv6 half runs on Windows only).
/// </summary>
/// <remarks>
/// <para>WSACMSGHDR (ws2def.h) is { SIZE_T cmsg_len; INT cmsg_level; INT cmsg_type; }: 16 bytes on x64, 12 on x86.
/// Its data starts at WSA_CMSGDATA_ALIGN(sizeof(WSACMSGHDR)) and the next header at WSA_CMSGHDR_ALIGN(cmsg_len),
/// both aligned to the pointer size (MAX_NATURAL_ALIGNMENT, TYPE_ALIGNMENT(WSACMSGHDR)); cmsg_len counts the
/// header and the data without the trailing padding (WSA_CMSG_LEN).</para>
/// <para>Windows numbers differ from Linux ones: IPPROTO_IPV6 41 with IPV6_HOPLIMIT 21 (one number both to ask
/// for the hop limit and for the control message that carries it, ws2ipdef.h), AF_INET 2, AF_INET6 23.</para>
/// </remarks>
internal static class WinsockMessage
{
    public const int IpProtoIpv6 = 41;
    /// <summary>IPV6_HOPLIMIT (ws2ipdef.h): setsockopt to 1 asks for it, the control message carries it as an INT.</summary>
    public const int Ipv6HopLimit = 21;
    public const int AddressFamilyV4 = 2;
    public const int AddressFamilyV6 = 23;
    /// <summary>SOCKADDR_STORAGE: room for any address WSARecvMsg may write.</summary>
    public const int NameSize = 128;
    /// <summary>Room for the control messages a raw ICMP socket gets: the hop limit (24 on x64) with slack for others.</summary>
    public const int ControlSize = 128;

    /// <summary>
    /// The hop limit of an IPV6_HOPLIMIT control message, or -1 when there is none. Anything else is skipped, and a
    /// block that ends early, or whose cmsg_len runs past its end or is shorter than a header, ends the walk there:
    /// the bytes are the network stack's, and a bad block must cost the hop limit, never the answer.
    /// </summary>
    /// <param name="control">The control block as long as WSARecvMsg said (Control.len on return).</param>
    /// <param name="pointerSize">The size of SIZE_T in the process that received it (8 on x64).</param>
    public static int ReadHopLimit(ReadOnlySpan<byte> control, int pointerSize)
    {
        var headerSize = pointerSize + 8;
        var dataOffset = Align(headerSize, pointerSize);
        var offset = 0;
        while (control.Length - offset >= headerSize)
        {
            var header = control[offset..];
            var length = pointerSize == 8 ? BinaryPrimitives.ReadUInt64LittleEndian(header) : BinaryPrimitives.ReadUInt32LittleEndian(header);
            if (length < (ulong)headerSize || length > (ulong)header.Length)
            {
                return -1;
            }
            var level = BinaryPrimitives.ReadInt32LittleEndian(header[pointerSize..]);
            var type = BinaryPrimitives.ReadInt32LittleEndian(header[(pointerSize + 4)..]);
            if (level == IpProtoIpv6 && type == Ipv6HopLimit && (int)length >= dataOffset + sizeof(int))
            {
                var hopLimit = BinaryPrimitives.ReadInt32LittleEndian(header[dataOffset..]);
                return hopLimit is >= 0 and <= 255 ? hopLimit : -1;
            }
            // WSA_CMSG_NXTHDR: the next header starts at the aligned length; past the end there is none.
            offset += Align((int)length, pointerSize);
        }
        return -1;
    }

    /// <summary>Reads the sender from a SOCKADDR_IN (AF_INET, address @4) or SOCKADDR_IN6 (AF_INET6, address @8).</summary>
    /// <returns>False when the name is too short or of another family than the socket's.</returns>
    public static bool TryReadAddress(IcmpFamily family, ReadOnlySpan<byte> name, out IpKey address)
    {
        address = default;
        if (name.Length < 2)
        {
            return false;
        }
        var addressFamily = BinaryPrimitives.ReadUInt16LittleEndian(name);
        if (family == IcmpFamily.IPv4 && addressFamily == AddressFamilyV4 && name.Length >= 8)
        {
            address = IpKey.FromV4(name.Slice(4, 4));
            return true;
        }
        if (family == IcmpFamily.IPv6 && addressFamily == AddressFamilyV6 && name.Length >= 24)
        {
            address = IpKey.FromV6(name.Slice(8, 16));
            return true;
        }
        return false;
    }

    /// <summary>
    /// One WSARecvMsg result as the message the prober matches: the datagram framed as a raw socket frames it
    /// (IPv4 with its header, whose TTL wins; ICMPv6 without, its hop limit from the control block).
    /// </summary>
    public static bool TryRead(IcmpFamily family, ReadOnlySpan<byte> datagram, int fullLength, ReadOnlySpan<byte> name,
        ReadOnlySpan<byte> control, int pointerSize, long receivedTimestamp, out IcmpMessage message, out ReadOnlySpan<byte> echoedPayload)
    {
        if (!TryReadAddress(family, name, out var source))
        {
            message = default;
            echoedPayload = default;
            return false;
        }
        var hopLimit = family == IcmpFamily.IPv6 ? ReadHopLimit(control, pointerSize) : -1;
        return RawFraming.TryRead(family, datagram, fullLength, source, hopLimit, 0, receivedTimestamp, out message, out echoedPayload);
    }

    private static int Align(int length, int alignment) => (length + alignment - 1) & ~(alignment - 1);
}
