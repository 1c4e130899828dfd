using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>Why a packet went through the raw socket rather than out as an Ethernet frame.</summary>
public enum FramePathFallback
{
    None,
    /// <summary>Policy routing beyond the default rules, source-specific or multipath routes: the kernel decides.</summary>
    ComplexRouting,
    /// <summary>A local, broadcast or multicast address, or no unicast route.</summary>
    NotUnicast,
    /// <summary>The route leaves through loopback, a tunnel, a point-to-point or a NOARP link.</summary>
    NotEthernet,
    /// <summary>The next hop's MAC is not known (incomplete, failed): the kernel resolves it.</summary>
    NeighbourUnresolved,
    /// <summary>
    /// The next hop's MAC is known but not recently confirmed (stale, delay, probe): one packet per batch goes
    /// through the kernel, which sends it to that MAC too and runs its own check of the neighbour.
    /// </summary>
    NeighbourUnconfirmed,
    /// <summary>Larger than the link's MTU: the kernel fragments.</summary>
    TooLarge,
}

/// <summary>Where one packet goes as a frame: the interface, the next hop's MAC, and the source address to write.</summary>
internal readonly record struct NextHop(int IfIndex, ulong Mac, IpKey Source, int Mtu, bool Confirmed);

/// <summary>
/// The kernel's routing for the Ethernet send path, read over rtnetlink (links, rules, routes, neighbours):
/// the next hop of a destination and its MAC, as the kernel itself would send to it. Only plain cases are
/// answered (the default rules, single-path unicast routes, an up Ethernet link, a neighbour the kernel
/// holds as reachable or permanent); everything else is left to the raw socket, which lets the kernel
/// decide and resolve. A listener on the kernel's change notifications marks the snapshot stale, so a next
/// hop that changes its MAC, a route or a link that changes is read again before the next batch.
/// </summary>
internal sealed unsafe class EthernetRoutes : IDisposable
{
    private const int RTM_NEWLINK = 16, RTM_GETLINK = 18, RTM_NEWROUTE = 24, RTM_GETROUTE = 26, RTM_NEWNEIGH = 28,
        RTM_GETNEIGH = 30, RTM_NEWRULE = 32, RTM_GETRULE = 34;
    private const int NLMSG_ERROR = 2, NLMSG_DONE = 3;
    private const ushort NLM_F_REQUEST = 1, NLM_F_DUMP = 0x300;
    private const byte RT_TABLE_DEFAULT = 253, RT_TABLE_MAIN = 254, RT_TABLE_LOCAL = 255;
    private const byte RTN_UNICAST = 1;
    private const uint RTM_F_CLONED = 0x200;
    private const ushort ARPHRD_ETHER = 1;
    private const uint IFF_UP = 0x1, IFF_LOOPBACK = 0x8, IFF_POINTOPOINT = 0x10, IFF_NOARP = 0x80;
    private const ushort NUD_REACHABLE = 0x02, NUD_STALE = 0x04, NUD_DELAY = 0x08, NUD_PROBE = 0x10, NUD_NOARP = 0x40, NUD_PERMANENT = 0x80;
    /// <summary>RTMGRP_LINK | NEIGH | IPV4_IFADDR | IPV4_ROUTE | IPV4_RULE | IPV6_IFADDR | IPV6_ROUTE.</summary>
    private const uint Groups = 0x1 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x400;
    private const int IPv6RuleGroup = 19;
    private const int NETLINK_ADD_MEMBERSHIP = 1, SOL_NETLINK = 270;

    private readonly IcmpFamily _family;
    private readonly SafeFileHandle? _monitor;
    /// <summary>
    /// The socket refreshes are read through, and a UDP socket the kernel picks source addresses on: both opened
    /// here, because a socket belongs to the network namespace of the thread that opens it, and refreshes run
    /// on whichever sender thread finds the snapshot stale.
    /// </summary>
    private readonly SafeFileHandle? _query;
    private readonly Socket _sourceProbe;
    private readonly object _refreshLock = new();
    private Snapshot _current;

    public EthernetRoutes(IcmpFamily family)
    {
        _family = family;
        _sourceProbe = new Socket(family == IcmpFamily.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6,
            SocketType.Dgram, ProtocolType.Udp);
        var query = OpenNetlink(0);
        _query = query >= 0 ? new SafeFileHandle(query, ownsHandle: true) : null;
        var monitor = OpenNetlink(Groups);
        if (monitor >= 0)
        {
            var group = IPv6RuleGroup;
            _ = LibC.setsockopt(monitor, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, &group, sizeof(int));
            _monitor = new SafeFileHandle(monitor, ownsHandle: true);
        }
        _current = Read();
    }

    /// <summary>The tables as the kernel has them now: read again when a change was announced since the last read.</summary>
    public Snapshot Current
    {
        // Read for every batch a sweep sends through frames: compiled fully optimised at its first call.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get
        {
            if (_monitor is null)
            {
                return Volatile.Read(ref _current);
            }
            using var hold = SocketHold.Take(_monitor, this);
            // The check and the refresh are one step under the lock: a sender that found the lock taken used to go
            // on with the old snapshot while another refreshed (one batch, 64 frames, to a next hop's old MAC), and
            // a sender whose check found nothing could likewise send while a refresh of an announced change ran.
            lock (_refreshLock)
            {
                if (Changed(hold.Fd))
                {
                    // Drained before reading, so a change during the read marks the next snapshot stale again.
                    while (Changed(hold.Fd))
                    {
                    }
                    Volatile.Write(ref _current, Read());
                }
            }
            return Volatile.Read(ref _current);
        }
    }

    /// <summary>True when the kernel announced a change (or dropped announcements: then anything may have changed).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool Changed(int fd)
    {
        var buffer = stackalloc byte[8192];
        var n = LibC.recv(fd, buffer, 8192, LibC.MSG_DONTWAIT);
        return n > 0 || (n < 0 && Marshal.GetLastPInvokeError() == LibC.ENOBUFS);
    }

    private static int OpenNetlink(uint groups)
    {
        var fd = LibC.socket(LibC.AF_NETLINK, LibC.SOCK_RAW | LibC.SOCK_CLOEXEC, LibC.NETLINK_ROUTE);
        if (fd < 0)
        {
            return -1;
        }
        // struct sockaddr_nl: family, pad, pid (0: the kernel assigns), groups.
        var address = stackalloc byte[12];
        new Span<byte>(address, 12).Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(new Span<byte>(address, 2), LibC.AF_NETLINK);
        BinaryPrimitives.WriteUInt32LittleEndian(new Span<byte>(address + 8, 4), groups);
        var size = 1 << 20;
        _ = LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, &size, sizeof(int));
        if (LibC.bind(fd, address, 12) != 0)
        {
            _ = LibC.close(fd);
            return -1;
        }
        return fd;
    }

    /// <summary>Reads links, rules, routes and neighbours of the family into a snapshot; a snapshot that answers nothing when reading fails.</summary>
    private Snapshot Read()
    {
        if (_query is null)
        {
            return Snapshot.Unusable;
        }
        lock (_query)
        {
            using var hold = SocketHold.Take(_query, this);
            var fd = hold.Fd;
            var family = _family;
            var snapshot = new Snapshot(family, KernelSource);
            var af = (byte)(family == IcmpFamily.IPv4 ? LibC.AF_INET : LibC.AF_INET6);
            var ok = Dump(fd, RTM_GETLINK, 0, 16, snapshot.AddLink)
                && Dump(fd, RTM_GETRULE, af, 12, snapshot.AddRule)
                && Dump(fd, RTM_GETROUTE, af, 12, snapshot.AddRoute)
                && Dump(fd, RTM_GETNEIGH, af, 12, snapshot.AddNeighbour);
            snapshot.Seal();
            return ok ? snapshot : Snapshot.Unusable;
        }
    }

    /// <summary>The source the kernel picks for a destination: connecting a UDP socket chooses it and sends nothing.</summary>
    private IpKey KernelSource(IpKey destination)
    {
        lock (_sourceProbe)
        {
            try
            {
                _sourceProbe.Connect(new IPEndPoint(destination.ToAddress(_family), 9));
                return _sourceProbe.LocalEndPoint is IPEndPoint local ? IpKey.FromAddress(local.Address) : default;
            }
            catch (SocketException)
            {
                return default;
            }
            catch (ObjectDisposedException)
            {
                return default;
            }
        }
    }

    private delegate void MessageHandler(int type, ReadOnlySpan<byte> body);

    private static bool Dump(int fd, ushort type, byte family, int headerSize, MessageHandler handler)
    {
        var request = stackalloc byte[16 + 16];
        var length = 16 + headerSize;
        var span = new Span<byte>(request, 32);
        span.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[4..], type);
        BinaryPrimitives.WriteUInt16LittleEndian(span[6..], NLM_F_REQUEST | NLM_F_DUMP);
        BinaryPrimitives.WriteUInt32LittleEndian(span[8..], 1);
        span[16] = family;
        if (LibC.send(fd, request, (nuint)length, 0) != length)
        {
            return false;
        }
        var buffer = new byte[64 * 1024];
        fixed (byte* p = buffer)
        {
            while (true)
            {
                var n = (int)LibC.recv(fd, p, (nuint)buffer.Length, 0);
                if (n <= 0)
                {
                    return false;
                }
                var data = buffer.AsSpan(0, n);
                while (data.Length >= 16)
                {
                    var messageLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(data);
                    var messageType = BinaryPrimitives.ReadUInt16LittleEndian(data[4..]);
                    if (messageLength < 16 || messageLength > data.Length)
                    {
                        return false;
                    }
                    if (messageType == NLMSG_DONE)
                    {
                        return true;
                    }
                    if (messageType == NLMSG_ERROR)
                    {
                        return false;
                    }
                    handler(messageType, data[16..messageLength]);
                    data = data[Math.Min(data.Length, (messageLength + 3) & ~3)..];
                }
            }
        }
    }

    /// <summary>Walks the rtattr list: type and payload of each attribute.</summary>
    private static IEnumerable<(int Type, int Offset, int Length)> Attributes(byte[] body, int start)
    {
        var at = start;
        while (at + 4 <= body.Length)
        {
            var length = BinaryPrimitives.ReadUInt16LittleEndian(body.AsSpan(at));
            var type = BinaryPrimitives.ReadUInt16LittleEndian(body.AsSpan(at + 2)) & 0x3FFF;
            if (length < 4 || at + length > body.Length)
            {
                yield break;
            }
            yield return (type, at + 4, length - 4);
            at += (length + 3) & ~3;
        }
    }

    /// <summary>One read of the kernel's tables. Immutable once sealed; shared by every sender thread.</summary>
    internal sealed class Snapshot
    {
        public static readonly Snapshot Unusable = new(IcmpFamily.IPv4, _ => default, usable: false);

        private readonly IcmpFamily _family;
        private readonly Func<IpKey, IpKey> _kernelSource;
        private readonly int _addressLength;
        private readonly Dictionary<int, (uint Flags, ushort Type, int Mtu)> _links = new();
        private readonly List<Route> _local = new();
        private readonly List<Route> _main = new();
        private readonly Dictionary<(int IfIndex, IpKey Address), (ulong Mac, bool Confirmed)> _neighbours = new();
        private bool _complex;

        private sealed class Route
        {
            public IpKey Destination;
            public int PrefixLength;
            public int Priority;
            public int IfIndex;
            public bool HasGateway;
            public IpKey Gateway;
            public bool HasPreferredSource;
            public IpKey PreferredSource;
            public bool Unicast;
            /// <summary>The kernel's source for this route, asked once (no packet leaves for it); a reference, so senders swap it whole.</summary>
            public StrongBox<IpKey>? Source;
        }

        public Snapshot(IcmpFamily family, Func<IpKey, IpKey> kernelSource, bool usable = true)
        {
            _family = family;
            _kernelSource = kernelSource;
            _addressLength = family == IcmpFamily.IPv4 ? 4 : 16;
            _complex = !usable;
        }

        public FramePathFallback? WholeFamilyFallback => _complex ? FramePathFallback.ComplexRouting : null;

        internal void AddLink(int type, ReadOnlySpan<byte> body)
        {
            if (type != RTM_NEWLINK || body.Length < 16)
            {
                return;
            }
            var hwType = BinaryPrimitives.ReadUInt16LittleEndian(body[2..]);
            var index = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
            var mtu = 1500;
            var bytes = body.ToArray();
            foreach (var (attr, offset, length) in Attributes(bytes, 16))
            {
                if (attr == 4 && length >= 4)
                {
                    mtu = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
                }
            }
            _links[index] = (flags, hwType, mtu);
        }

        internal void AddRule(int type, ReadOnlySpan<byte> body)
        {
            if (type != RTM_NEWRULE || body.Length < 12)
            {
                return;
            }
            // The default rules select nothing and look up local, main or default: any other rule may send a
            // packet elsewhere than the main table says (fwmark, source, interface, VRF).
            var bytes = body.ToArray();
            var table = (int)body[4];
            var plain = body[1] == 0 && body[2] == 0 && body[3] == 0 && body[7] == 1;
            foreach (var (attr, offset, length) in Attributes(bytes, 12))
            {
                switch (attr)
                {
                    case 15 when length >= 4:
                        table = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
                        break;
                    case 6 or 21:
                        break;
                    case 13 or 14 when length >= 4 && BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset)) == -1:
                        break;
                    default:
                        plain = false;
                        break;
                }
            }
            if (!plain || table is not (RT_TABLE_LOCAL or RT_TABLE_MAIN or RT_TABLE_DEFAULT))
            {
                _complex = true;
            }
        }

        internal void AddRoute(int type, ReadOnlySpan<byte> body)
        {
            if (type != RTM_NEWROUTE || body.Length < 12)
            {
                return;
            }
            var bytes = body.ToArray();
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(body[8..]);
            if ((flags & RTM_F_CLONED) != 0)
            {
                return;
            }
            var route = new Route { PrefixLength = body[1], Unicast = body[7] == RTN_UNICAST };
            var table = (int)body[4];
            var complex = body[2] != 0 || body[3] != 0;
            foreach (var (attr, offset, length) in Attributes(bytes, 12))
            {
                var value = bytes.AsSpan(offset, length);
                switch (attr)
                {
                    case 1 when length == _addressLength:
                        route.Destination = Key(value);
                        break;
                    case 4 when length >= 4:
                        route.IfIndex = BinaryPrimitives.ReadInt32LittleEndian(value);
                        break;
                    case 5 when length == _addressLength:
                        route.Gateway = Key(value);
                        route.HasGateway = true;
                        break;
                    case 6 when length >= 4:
                        route.Priority = BinaryPrimitives.ReadInt32LittleEndian(value);
                        break;
                    case 7 when length == _addressLength:
                        route.PreferredSource = Key(value);
                        route.HasPreferredSource = true;
                        break;
                    case 15 when length >= 4:
                        table = BinaryPrimitives.ReadInt32LittleEndian(value);
                        break;
                    // Multipath, a gateway of another family, nexthop objects, source-specific routes.
                    case 9 or 18 or 30 or 2:
                        complex = true;
                        break;
                }
            }
            if (table == RT_TABLE_LOCAL)
            {
                _local.Add(route);
            }
            else if (table == RT_TABLE_MAIN)
            {
                if (complex)
                {
                    // Only these routes are beyond us: what they cover goes to the raw socket.
                    route.Unicast = false;
                }
                _main.Add(route);
            }
            else if (table == RT_TABLE_DEFAULT)
            {
                // Rarely used; its routes apply where main has none, which a plain lookup here would miss.
                _complex = true;
            }
        }

        internal void AddNeighbour(int type, ReadOnlySpan<byte> body)
        {
            if (type != RTM_NEWNEIGH || body.Length < 12)
            {
                return;
            }
            var index = BinaryPrimitives.ReadInt32LittleEndian(body[4..]);
            var state = BinaryPrimitives.ReadUInt16LittleEndian(body[8..]);
            // Stale, delay and probe entries hold the MAC the kernel itself still sends to while it checks it.
            if ((state & (NUD_REACHABLE | NUD_PERMANENT | NUD_NOARP | NUD_STALE | NUD_DELAY | NUD_PROBE)) == 0)
            {
                return;
            }
            var confirmed = (state & (NUD_REACHABLE | NUD_PERMANENT | NUD_NOARP)) != 0;
            var bytes = body.ToArray();
            IpKey? address = null;
            ulong? mac = null;
            foreach (var (attr, offset, length) in Attributes(bytes, 12))
            {
                if (attr == 1 && length == _addressLength)
                {
                    address = Key(bytes.AsSpan(offset, length));
                }
                else if (attr == 2 && length == 6)
                {
                    // Six bytes in the low end of a little-endian word: written back as they are into sockaddr_ll.
                    mac = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(offset)) | ((ulong)BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(offset + 4)) << 32);
                }
            }
            if (address is { } a && mac is { } m && m != 0)
            {
                _neighbours[(index, a)] = (m, confirmed);
            }
        }

        internal void Seal()
        {
            // Longest prefix first, then the lowest metric: the first match is the kernel's choice.
            Comparison<Route> order = (x, y) => x.PrefixLength != y.PrefixLength ? y.PrefixLength.CompareTo(x.PrefixLength) : x.Priority.CompareTo(y.Priority);
            _local.Sort(order);
            _main.Sort(order);
        }

        private IpKey Key(ReadOnlySpan<byte> value) => _family == IcmpFamily.IPv4 ? IpKey.FromV4(value) : IpKey.FromV6(value);

        // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private bool Covers(Route route, in IpKey address)
        {
            if (_family == IcmpFamily.IPv4)
            {
                var mask = route.PrefixLength == 0 ? 0u : uint.MaxValue << (32 - route.PrefixLength);
                return (((uint)address.Lo ^ (uint)route.Destination.Lo) & mask) == 0;
            }
            var hiBits = Math.Min(64, route.PrefixLength);
            var loBits = route.PrefixLength - hiBits;
            var hiMask = hiBits == 0 ? 0ul : ulong.MaxValue << (64 - hiBits);
            var loMask = loBits == 0 ? 0ul : ulong.MaxValue << (64 - loBits);
            return ((address.Hi ^ route.Destination.Hi) & hiMask) == 0 && ((address.Lo ^ route.Destination.Lo) & loMask) == 0;
        }

        /// <summary>The next hop for a packet of <paramref name="ipLength"/> bytes to <paramref name="destination"/>, or why the kernel should send it.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public FramePathFallback TryResolve(in IpKey destination, int ipLength, out NextHop hop)
        {
            hop = default;
            if (_complex)
            {
                return FramePathFallback.ComplexRouting;
            }
            foreach (var route in _local)
            {
                if (Covers(route, destination))
                {
                    return FramePathFallback.NotUnicast;
                }
            }
            Route? found = null;
            foreach (var route in _main)
            {
                if (Covers(route, destination))
                {
                    found = route;
                    break;
                }
            }
            if (found is null || !found.Unicast || IsMulticast(destination))
            {
                return found is null ? FramePathFallback.NotUnicast : found.Unicast ? FramePathFallback.NotUnicast : FramePathFallback.ComplexRouting;
            }
            if (!_links.TryGetValue(found.IfIndex, out var link) || link.Type != ARPHRD_ETHER || (link.Flags & IFF_UP) == 0
                || (link.Flags & (IFF_LOOPBACK | IFF_POINTOPOINT | IFF_NOARP)) != 0)
            {
                return FramePathFallback.NotEthernet;
            }
            if (ipLength > link.Mtu)
            {
                return FramePathFallback.TooLarge;
            }
            var next = found.HasGateway ? found.Gateway : destination;
            if (!_neighbours.TryGetValue((found.IfIndex, next), out var neighbour))
            {
                return FramePathFallback.NeighbourUnresolved;
            }
            var source = found.HasPreferredSource ? found.PreferredSource : (found.Source ??= new StrongBox<IpKey>(_kernelSource(destination))).Value;
            if (source == default)
            {
                return FramePathFallback.NotUnicast;
            }
            hop = new NextHop(found.IfIndex, neighbour.Mac, source, link.Mtu, neighbour.Confirmed);
            return FramePathFallback.None;
        }

        private bool IsMulticast(in IpKey address) => _family == IcmpFamily.IPv4
            ? ((uint)address.Lo >> 28) == 0xE || (uint)address.Lo == uint.MaxValue
            : (address.Hi >> 56) == 0xFF;
    }

    public void Dispose()
    {
        _monitor?.Dispose();
        _query?.Dispose();
        _sourceProbe.Dispose();
    }
}
