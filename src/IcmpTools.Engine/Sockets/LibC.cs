using System.Runtime.InteropServices;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// The few libc calls .NET does not wrap: batched send/receive with control messages (kernel
/// timestamps, per-packet TTL/TOS/source), poll and eventfd for a receive loop that wakes on demand.
/// Struct layouts are the LP64 Linux ones (x86_64 and arm64 share them).
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int EINTR = 4;
    public const int EAGAIN = 11;
    public const int EPERM = 1;
    public const int EACCES = 13;

    public const int SOL_SOCKET = 1;
    public const int SO_SNDBUF = 7;
    public const int SO_RCVBUF = 8;
    public const int SO_SNDBUFFORCE = 32;
    public const int SO_RCVBUFFORCE = 33;
    public const int SO_TIMESTAMPNS = 35;
    public const int SO_TIMESTAMPING = 37;
    public const int SCM_TIMESTAMPING = 37;
    /// <summary>Per-packet key for a transmit timestamp (Linux 6.13+); older kernels refuse the send with EINVAL.</summary>
    public const int SCM_TS_OPT_ID = 81;

    public const int SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1;
    public const int SOF_TIMESTAMPING_SOFTWARE = 1 << 4;
    public const int SOF_TIMESTAMPING_OPT_ID = 1 << 7;
    public const int SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11;
    public const byte SO_EE_ORIGIN_TIMESTAMPING = 4;
    public const uint SCM_TSTAMP_SND = 0;
    public const int EINVAL = 22;

    public const int IPPROTO_IP = 0;
    public const int IP_TOS = 1;
    public const int IP_TTL = 2;
    public const int IP_PKTINFO = 8;
    public const int IP_MTU_DISCOVER = 10;
    public const int IP_RECVERR = 11;
    public const int IP_PMTUDISC_DO = 2;

    public const int SOL_RAW = 255;
    public const int ICMP_FILTER = 1;

    public const int IPPROTO_IPV6 = 41;
    public const int IPV6_UNICAST_HOPS = 16;
    public const int IPV6_RECVERR = 25;
    public const int IPV6_MTU_DISCOVER = 23;
    public const int IPV6_PMTUDISC_DO = 2;
    public const int IPV6_PKTINFO = 50;
    public const int IPV6_RECVHOPLIMIT = 51;
    public const int IPV6_HOPLIMIT = 52;
    public const int IPV6_DONTFRAG = 62;
    public const int IPV6_TCLASS = 67;

    public const int IPPROTO_ICMPV6 = 58;
    public const int ICMP6_FILTER = 1;

    public const int MSG_DONTWAIT = 0x40;
    public const int MSG_TRUNC = 0x20;
    public const int MSG_ERRQUEUE = 0x2000;

    public const short POLLIN = 0x001;

    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    public const ushort AF_INET = 2;
    public const ushort AF_INET6 = 10;

    [StructLayout(LayoutKind.Sequential)]
    public struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MsgHdr
    {
        public void* Name;
        public uint NameLength;
        public IoVec* Iov;
        public nuint IovLength;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct MMsgHdr
    {
        public MsgHdr Header;
        public uint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CMsgHdr
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short REvents;
    }

    /// <summary>struct sock_extended_err: what an error-queue message is about.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SockExtendedErr
    {
        public uint Errno;
        public byte Origin;
        public byte Type;
        public byte Code;
        public byte Pad;
        public uint Info;
        public uint Data;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    public static int CmsgAlign(int length) => (length + sizeof(nuint) - 1) & ~(sizeof(nuint) - 1);
    public static int CmsgSpace(int dataLength) => CmsgAlign(sizeof(CMsgHdr)) + CmsgAlign(dataLength);
    public static int CmsgLen(int dataLength) => CmsgAlign(sizeof(CMsgHdr)) + dataLength;

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int sendmmsg(int fd, MMsgHdr* messages, uint count, int flags);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int recvmmsg(int fd, MMsgHdr* messages, uint count, int flags, TimeSpec* timeout);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int poll(PollFd* fds, nuint count, int timeoutMs);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int eventfd(uint initial, int flags);

    /// <summary>struct ifaddrs (getifaddrs(3)): one address of one interface, in a list.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IfAddrs
    {
        public IfAddrs* Next;
        public byte* Name;
        public uint Flags;
        public byte* Address;
        public byte* Netmask;
        public byte* BroadcastOrDestination;
        public void* Data;
    }

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getifaddrs(IfAddrs** list);

    [LibraryImport(Lib)]
    public static partial void freeifaddrs(IfAddrs* list);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial nint write(int fd, void* buffer, nuint count);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int close(int fd);

    /// <summary>IF_NAMESIZE: an interface name and its terminating zero.</summary>
    public const int IfNameSize = 16;

    /// <summary>The name of the interface with this index in the calling thread's namespace, or null.</summary>
    [LibraryImport(Lib, SetLastError = true)]
    public static partial byte* if_indextoname(uint index, byte* name);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int setsockopt(int fd, int level, int name, void* value, uint length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int getsockopt(int fd, int level, int name, void* value, uint* length);

    [LibraryImport(Lib, SetLastError = true)]
    public static partial int connect(int fd, byte* address, uint length);
}
