using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// Socket options and per-packet control blocks both Linux transports use: destination sockaddrs, the
/// TTL / traffic class / source control messages of each request, SO_BINDTODEVICE and SO_BROADCAST.
/// </summary>
internal static unsafe class SocketOptions
{
    public const int SO_BROADCAST = 6;
    public const int SO_BINDTODEVICE = 25;
    /// <summary>IFNAMSIZ: interface names are at most 15 bytes plus the terminating NUL.</summary>
    private const int InterfaceNameSize = 16;

    /// <summary>Binds the socket to one interface (-Interface): its packets leave there and only its packets arrive.</summary>
    /// <exception cref="SocketUnavailableException">No such interface, or the name is too long.</exception>
    public static void BindToDevice(int fd, string interfaceName)
    {
        var bytes = Encoding.UTF8.GetBytes(interfaceName);
        if (bytes.Length >= InterfaceNameSize || bytes.Contains((byte)0))
        {
            throw new SocketUnavailableException($"'{interfaceName}' is not an interface name (at most 15 bytes).");
        }
        Span<byte> name = stackalloc byte[InterfaceNameSize];
        name.Clear();
        bytes.CopyTo(name);
        fixed (byte* p = name)
        {
            if (LibC.setsockopt(fd, LibC.SOL_SOCKET, SO_BINDTODEVICE, p, (uint)(bytes.Length + 1)) != 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                throw new SocketUnavailableException(errno == 19
                    ? $"There is no interface '{interfaceName}' (in this network namespace)."
                    : $"Could not bind to the interface '{interfaceName}' (errno {errno}).");
            }
        }
    }

    public static int WriteSockAddr(Span<byte> name, IcmpFamily family, in IpKey address)
    {
        if (family == IcmpFamily.IPv4)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(name, LibC.AF_INET);
            BinaryPrimitives.WriteUInt32BigEndian(name[4..], (uint)address.Lo);
            return 16;
        }
        BinaryPrimitives.WriteUInt16LittleEndian(name, LibC.AF_INET6);
        BinaryPrimitives.WriteUInt64BigEndian(name[8..], address.Hi);
        BinaryPrimitives.WriteUInt64BigEndian(name[16..], address.Lo);
        return 28;
    }

    /// <summary>The control messages that give one request its TTL, traffic class and source; returns their length.</summary>
    public static int WriteSendControl(Span<byte> control, IcmpFamily family, ref OutgoingPacket packet)
    {
        var length = 0;
        if (family == IcmpFamily.IPv4)
        {
            length += WriteCmsgInt(control[length..], LibC.IPPROTO_IP, LibC.IP_TTL, packet.Ttl);
            if (packet.TrafficClass != 0)
            {
                length += WriteCmsgInt(control[length..], LibC.IPPROTO_IP, LibC.IP_TOS, packet.TrafficClass);
            }
            if (packet.HasSource)
            {
                // struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }: spec_dst is the source.
                var data = WriteCmsgHeader(control[length..], LibC.IPPROTO_IP, LibC.IP_PKTINFO, 12);
                data[..12].Clear();
                BinaryPrimitives.WriteUInt32BigEndian(data[4..], (uint)packet.Source.Lo);
                length += LibC.CmsgSpace(12);
            }
            return length;
        }
        length += WriteCmsgInt(control[length..], LibC.IPPROTO_IPV6, LibC.IPV6_HOPLIMIT, packet.Ttl);
        if (packet.TrafficClass != 0)
        {
            length += WriteCmsgInt(control[length..], LibC.IPPROTO_IPV6, LibC.IPV6_TCLASS, packet.TrafficClass);
        }
        if (packet.HasSource)
        {
            // struct in6_pktinfo { in6_addr addr; int ifindex; }
            var data = WriteCmsgHeader(control[length..], LibC.IPPROTO_IPV6, LibC.IPV6_PKTINFO, 20);
            data[..20].Clear();
            BinaryPrimitives.WriteUInt64BigEndian(data, packet.Source.Hi);
            BinaryPrimitives.WriteUInt64BigEndian(data[8..], packet.Source.Lo);
            length += LibC.CmsgSpace(20);
        }
        return length;
    }

    private static int WriteCmsgInt(Span<byte> control, int level, int type, int value)
    {
        var data = WriteCmsgHeader(control, level, type, sizeof(int));
        BinaryPrimitives.WriteInt32LittleEndian(data, value);
        return LibC.CmsgSpace(sizeof(int));
    }

    private static Span<byte> WriteCmsgHeader(Span<byte> control, int level, int type, int dataLength)
    {
        ref var header = ref MemoryMarshal.AsRef<LibC.CMsgHdr>(control);
        header.Length = (nuint)LibC.CmsgLen(dataLength);
        header.Level = level;
        header.Type = type;
        return control[LibC.CmsgAlign(sizeof(LibC.CMsgHdr))..];
    }
}
