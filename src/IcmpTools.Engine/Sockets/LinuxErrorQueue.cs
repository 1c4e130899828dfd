using System.Buffers.Binary;
using System.Runtime.InteropServices;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// What one datagram ("ping") socket message said besides its bytes: the control messages of a normal
/// receive (TTL, kernel timestamp) and, for an entry of the error queue, the ICMP error the kernel matched to
/// one of our requests. Filled by <see cref="LinuxErrorQueue.ReadControl"/>.
/// </summary>
internal struct DatagramControl
{
    /// <summary>TTL / hop limit the message arrived with (IP_RECVTTL / IPV6_RECVHOPLIMIT); -1 when not given.</summary>
    public int Ttl;
    /// <summary>Kernel receive time (SO_TIMESTAMPNS, Unix ns); 0 when not given.</summary>
    public long KernelRealtimeNs;
    /// <summary>True when a sock_extended_err from an ICMP message was found (error-queue entries only).</summary>
    public bool HasIcmpError;
    public byte Type;
    public byte Code;
    /// <summary>ee_info: the next-hop MTU of Fragmentation Needed / Packet Too Big, the pointer of Parameter Problem.</summary>
    public uint Info;
    /// <summary>The errno the kernel derived (EHOSTUNREACH for Time Exceeded, ENETUNREACH ...); informational.</summary>
    public int Errno;
    /// <summary>SO_EE_OFFENDER: the router or host that sent the ICMP error.</summary>
    public IpKey Offender;
    /// <summary>
    /// IP_RECVERR_RFC4884: where in the returned payload the kernel found a compliant RFC 4884 extension structure
    /// (ee_rfc4884.len); 0 when it found none, or the kernel does not say.
    /// </summary>
    public int ExtensionOffset;
}

/// <summary>
/// Linux's per-socket error queue, the only way a datagram ICMP socket learns of the ICMP errors its
/// requests caused: with IP_RECVERR / IPV6_RECVERR set, the kernel queues each error it matched to the
/// socket (by the identifier it wrote) and recvmsg(MSG_ERRQUEUE) returns the request as it was sent (header
/// and payload, so sequence and cookie survive), the original destination as msg_name, and a control message
/// holding <c>struct sock_extended_err</c> followed by the offender's sockaddr (SO_EE_OFFENDER). poll()
/// reports a non-empty queue as POLLERR. Without IP_RECVERR nothing of this arrives at all.
/// </summary>
internal static unsafe partial class LinuxErrorQueue
{
    public const int IP_RECVERR = LibC.IP_RECVERR;
    public const int IP_RECVTTL = 12;
    public const int IPV6_RECVERR = LibC.IPV6_RECVERR;
    /// <summary>Linux 5.9+: locate RFC 4884 extensions in error-queue entries (ee_rfc4884); older kernels refuse it, harmlessly.</summary>
    public const int IP_RECVERR_RFC4884 = 26;
    public const int IPV6_RECVERR_RFC4884 = 31;
    public const int MSG_ERRQUEUE = LibC.MSG_ERRQUEUE;
    public const short POLLERR = 0x008;

    public const byte SO_EE_ORIGIN_ICMP = 2;
    public const byte SO_EE_ORIGIN_ICMP6 = 3;

    private const int IP_TTL = 2;
    private const int IPV6_HOPLIMIT = 52;

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint recvmsg(int fd, LibC.MsgHdr* message, int flags);

    /// <summary>
    /// Reads the control messages of one received message. Hostile or truncated blocks are read as far as
    /// they are whole; nothing throws. Error entries from a non-ICMP origin (local errors such as EMSGSIZE)
    /// leave <see cref="DatagramControl.HasIcmpError"/> false.
    /// </summary>
    public static void ReadControl(ReadOnlySpan<byte> control, out DatagramControl result)
    {
        result = default;
        result.Ttl = -1;
        var headerSize = LibC.CmsgAlign(sizeof(LibC.CMsgHdr));
        while (control.Length >= headerSize)
        {
            var header = MemoryMarshal.Read<LibC.CMsgHdr>(control);
            if (header.Length < (nuint)headerSize || header.Length > (nuint)control.Length)
            {
                return;
            }
            var length = (int)header.Length;
            var data = control[headerSize..length];
            switch (header.Level, header.Type)
            {
                case (LibC.SOL_SOCKET, LibC.SO_TIMESTAMPNS) when data.Length >= sizeof(LibC.TimeSpec):
                    var ts = MemoryMarshal.Read<LibC.TimeSpec>(data);
                    result.KernelRealtimeNs = (ts.Seconds * 1_000_000_000L) + ts.Nanoseconds;
                    break;
                case (LibC.IPPROTO_IP, IP_TTL) when data.Length >= sizeof(int):
                case (LibC.IPPROTO_IPV6, IPV6_HOPLIMIT) when data.Length >= sizeof(int):
                    result.Ttl = MemoryMarshal.Read<int>(data);
                    break;
                case (LibC.IPPROTO_IP, IP_RECVERR) when data.Length >= sizeof(LibC.SockExtendedErr):
                case (LibC.IPPROTO_IPV6, IPV6_RECVERR) when data.Length >= sizeof(LibC.SockExtendedErr):
                    ReadExtendedError(data, ref result);
                    break;
            }
            var advance = LibC.CmsgAlign(length);
            if (advance >= control.Length)
            {
                return;
            }
            control = control[advance..];
        }
    }

    private static void ReadExtendedError(ReadOnlySpan<byte> data, ref DatagramControl result)
    {
        var ee = MemoryMarshal.Read<LibC.SockExtendedErr>(data);
        if (ee.Origin is not (SO_EE_ORIGIN_ICMP or SO_EE_ORIGIN_ICMP6))
        {
            return;
        }
        var offender = data[sizeof(LibC.SockExtendedErr)..];
        if (!TryReadSockAddr(offender, out result.Offender))
        {
            return;
        }
        result.HasIcmpError = true;
        result.Type = ee.Type;
        result.Code = ee.Code;
        result.Info = ee.Info;
        result.Errno = (int)ee.Errno;
        // ee_data holds struct sock_ee_data_rfc4884 { u16 len; u8 flags; u8 reserved; } in host order; flag 1 is
        // the kernel's own checksum verdict, which the parser repeats.
        result.ExtensionOffset = (int)(ee.Data & 0xFFFF);
    }

    /// <summary>A sockaddr_in / sockaddr_in6 as Linux lays it out (family in host order, no length byte).</summary>
    public static bool TryReadSockAddr(ReadOnlySpan<byte> name, out IpKey address)
    {
        address = default;
        if (name.Length < 2)
        {
            return false;
        }
        var family = BinaryPrimitives.ReadUInt16LittleEndian(name);
        if (family == LibC.AF_INET && name.Length >= 8)
        {
            address = IpKey.FromV4(name.Slice(4, 4));
            return true;
        }
        if (family == LibC.AF_INET6 && name.Length >= 24)
        {
            address = IpKey.FromV6(name.Slice(8, 16));
            return true;
        }
        return false;
    }
}
