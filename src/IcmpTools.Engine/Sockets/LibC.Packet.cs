using System.Runtime.InteropServices;

namespace IcmpTools.Engine.Sockets;

/// <summary>The libc calls and constants of the Ethernet send path: packet sockets and rtnetlink.</summary>
internal static unsafe partial class LibC
{
    public const int AF_NETLINK = 16;
    public const int AF_PACKET = 17;
    public const int SOCK_RAW = 3;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOCK_NONBLOCK = 0x800;
    public const int NETLINK_ROUTE = 0;
    public const int ENOBUFS = 105;

    public const int SOL_PACKET = 263;
    public const int PACKET_TX_TIMESTAMP = 16;
    public const int PACKET_QDISC_BYPASS = 20;

    public const ushort ETH_P_IP = 0x0800;
    public const ushort ETH_P_IPV6 = 0x86DD;

    /// <summary>struct sockaddr_ll.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockAddrLl
    {
        public ushort Family;
        /// <summary>Network byte order.</summary>
        public ushort Protocol;
        public int IfIndex;
        public ushort HaType;
        public byte PktType;
        public byte HaLength;
        public fixed byte Address[8];
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int socket(int domain, int type, int protocol);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int bind(int fd, void* address, uint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint send(int fd, void* buffer, nuint length, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint recv(int fd, void* buffer, nuint length, int flags);
}
