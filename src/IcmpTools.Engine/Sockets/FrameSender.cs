using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using Microsoft.Win32.SafeHandles;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// The raw transport's Ethernet send path on Linux: echo requests leave as frames to the next hop's MAC
/// through packet sockets (PACKET_QDISC_BYPASS, sendmmsg), skipping the kernel's IP output path (route
/// lookup, neighbour, queueing discipline) that a raw socket runs inside every send call. The next hop comes
/// from the kernel's own tables (<see cref="EthernetRoutes"/>), so nobody is asked for a gateway MAC;
/// whatever is not a plain Ethernet next hop the kernel has resolved goes back to the raw socket. Replies
/// still arrive on the raw socket, and every frame is stamped by the kernel as it leaves (SO_TIMESTAMPING
/// with a per-packet key, read from the packet socket's error queue), as raw sends are.
/// </summary>
internal sealed unsafe class FrameSender : IDisposable
{
    private const int NameSize = 20;
    private const int HeaderSize = 40;
    private const int ControlSize = 32;

    private readonly IcmpFamily _family;
    private readonly EthernetRoutes _routes;
    private readonly SafeFileHandle[] _sockets;
    private int _nextSocket;
    private int _ipId = Random.Shared.Next();
    private readonly long[] _fallbacks = new long[Enum.GetValues<FramePathFallback>().Length];
    private long _framed;
    private int _lastIfIndex;
    private volatile bool _keysRefused;

    private FrameSender(IcmpFamily family, EthernetRoutes routes, SafeFileHandle[] sockets)
    {
        _family = family;
        _routes = routes;
        _sockets = sockets;
    }

    /// <summary>Whether <see cref="TryOpen"/> may take the frame path; ICMPTOOLS_SEND_PATH=raw turns it off (for comparisons).</summary>
    public static bool Allowed => OperatingSystem.IsLinux()
        && !string.Equals(Environment.GetEnvironmentVariable("ICMPTOOLS_SEND_PATH"), "raw", StringComparison.OrdinalIgnoreCase);

    /// <summary>Opens packet sockets (one per sender, as the raw transport has), or null where they cannot be had.</summary>
    public static FrameSender? TryOpen(IcmpFamily family, int senders, bool timestamps)
    {
        if (!Allowed)
        {
            return null;
        }
        var sockets = new List<SafeFileHandle>();
        EthernetRoutes? routes = null;
        try
        {
            for (var i = 0; i < senders; i++)
            {
                // Protocol 0: a packet socket that receives nothing, so no frame of the machine is copied to it.
                var fd = LibC.socket(LibC.AF_PACKET, LibC.SOCK_DGRAM | LibC.SOCK_CLOEXEC, 0);
                if (fd < 0)
                {
                    return null;
                }
                var handle = new SafeFileHandle(fd, ownsHandle: true);
                sockets.Add(handle);
                var one = 1;
                _ = LibC.setsockopt(fd, LibC.SOL_PACKET, LibC.PACKET_QDISC_BYPASS, &one, sizeof(int));
                var bytes = 4 * 1024 * 1024;
                if (LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUFFORCE, &bytes, sizeof(int)) != 0)
                {
                    _ = LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUF, &bytes, sizeof(int));
                }
                if (timestamps && !TransmitTimestamps.Enable(fd))
                {
                    return null;
                }
            }
            routes = new EthernetRoutes(family);
            var sender = new FrameSender(family, routes, [.. sockets]);
            routes = null;
            sockets.Clear();
            return sender;
        }
        finally
        {
            routes?.Dispose();
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    public IEnumerable<SafeFileHandle> Sockets => _sockets;

    /// <summary>
    /// Decides each packet's path: fills <paramref name="hops"/> for those that go as frames and returns,
    /// per packet, whether it does. One read of the routes per batch.
    /// </summary>
    public void Classify(SendBatch batch, Span<NextHop> hops, Span<bool> framed)
    {
        var snapshot = _routes.Current;
        var headerLength = _family == IcmpFamily.IPv4 ? 20 : 40;
        var kernelChecks = false;
        for (var i = 0; i < batch.Count; i++)
        {
            ref var p = ref batch.Packets[i];
            var reason = snapshot.TryResolve(p.Destination, headerLength + p.Length, out hops[i]);
            if (reason == FramePathFallback.None && p.HasSource)
            {
                // A source the caller chose: written as given, as the raw socket would send it.
                hops[i] = hops[i] with { Source = p.Source };
            }
            if (reason == FramePathFallback.None && !hops[i].Confirmed && !kernelChecks)
            {
                // The kernel only checks a neighbour it sends to: one packet of the batch keeps its check going,
                // so a next hop that changed its MAC is found out (the entry fails, or is learnt anew).
                kernelChecks = true;
                reason = FramePathFallback.NeighbourUnconfirmed;
            }
            framed[i] = reason == FramePathFallback.None;
            if (reason != FramePathFallback.None)
            {
                Interlocked.Increment(ref _fallbacks[(int)reason]);
            }
        }
    }

    /// <summary>Which path the packets took so far, for -Verbose: "N as Ethernet frames on IF (AF_PACKET), M through the raw socket (why: k, ...)"; null before any.</summary>
    public string? Describe()
    {
        var framed = Interlocked.Read(ref _framed);
        var parts = new List<string>();
        long raw = 0;
        for (var i = 1; i < _fallbacks.Length; i++)
        {
            var n = Interlocked.Read(ref _fallbacks[i]);
            if (n > 0)
            {
                raw += n;
                parts.Add($"{Why((FramePathFallback)i)}: {n}");
            }
        }
        if (framed + raw == 0)
        {
            return null;
        }
        var device = framed > 0 ? $" on {InterfaceName(Volatile.Read(ref _lastIfIndex))}" : string.Empty;
        var rest = raw == 0 ? "0 through the raw socket" : $"{raw} through the raw socket ({string.Join("; ", parts)})";
        return $"{framed} as Ethernet frames{device} (AF_PACKET), {rest}";
    }

    private static string Why(FramePathFallback reason) => reason switch
    {
        FramePathFallback.ComplexRouting => "policy, source or multipath routing",
        FramePathFallback.NotUnicast => "local, broadcast or multicast address",
        FramePathFallback.NotEthernet => "next hop not on Ethernet (loopback, tunnel, point-to-point)",
        FramePathFallback.NeighbourUnresolved => "next hop's MAC not resolved",
        FramePathFallback.NeighbourUnconfirmed => "one per batch while the kernel checks the next hop",
        FramePathFallback.TooLarge => "larger than the link's MTU",
        _ => reason.ToString(),
    };

    private static string InterfaceName(int index)
    {
        foreach (var nic in System.Net.NetworkInformation.NetworkInterface.GetAllNetworkInterfaces())
        {
            try
            {
                if (nic.GetIPProperties().GetIPv4Properties()?.Index == index || nic.GetIPProperties().GetIPv6Properties()?.Index == index)
                {
                    return nic.Name;
                }
            }
            catch (System.Net.NetworkInformation.NetworkInformationException)
            {
                // A link without IP properties: keep looking.
            }
        }
        return $"#{index}";
    }

    public long FramesSent => Interlocked.Read(ref _framed);

    public long Fallbacks(FramePathFallback reason) => Interlocked.Read(ref _fallbacks[(int)reason]);

    /// <summary>
    /// Sends packets [<paramref name="first"/>, <paramref name="first"/>+<paramref name="count"/>) of the batch as frames:
    /// stamps them and runs the batch's BeforeSend, records each one's errno, and counts their transmit stamps.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Send(SendBatch batch, int first, int count, ReadOnlySpan<NextHop> hops, bool keyed, TransmitTimestamps stamps, object owner)
    {
        keyed &= !_keysRefused;
        var messages = stackalloc LibC.MMsgHdr[SendBatch.MaxCapacity];
        var iov = stackalloc LibC.IoVec[SendBatch.MaxCapacity * 2];
        var names = stackalloc LibC.SockAddrLl[SendBatch.MaxCapacity];
        var headers = stackalloc byte[SendBatch.MaxCapacity * HeaderSize];
        var control = stackalloc byte[SendBatch.MaxCapacity * ControlSize];
        var socket = _sockets[(uint)Interlocked.Increment(ref _nextSocket) % (uint)_sockets.Length];
        using var hold = SocketHold.Take(socket, owner);
        fixed (byte* buffer = batch.Buffer)
        {
            for (var j = 0; j < count; j++)
            {
                var i = first + j;
                ref var p = ref batch.Packets[i];
                ref readonly var hop = ref hops[i];
                var header = new Span<byte>(headers + (j * HeaderSize), HeaderSize);
                var icmp = new Span<byte>(buffer + p.Offset, p.Length);
                var headerLength = WriteIpHeader(header, ref p, hop.Source, icmp);
                iov[2 * j].Base = headers + (j * HeaderSize);
                iov[2 * j].Length = (nuint)headerLength;
                iov[(2 * j) + 1].Base = buffer + p.Offset;
                iov[(2 * j) + 1].Length = (nuint)p.Length;
                names[j] = new LibC.SockAddrLl
                {
                    Family = LibC.AF_PACKET,
                    Protocol = BinaryPrimitives.ReverseEndianness(_family == IcmpFamily.IPv4 ? LibC.ETH_P_IP : LibC.ETH_P_IPV6),
                    IfIndex = hop.IfIndex,
                    HaLength = 6,
                };
                *(ulong*)names[j].Address = hop.Mac;
                var controlLength = keyed ? TransmitTimestamps.WriteKey(new Span<byte>(control + (j * ControlSize), ControlSize), p.Key) : 0;
                messages[j].Header = new LibC.MsgHdr
                {
                    Name = &names[j],
                    NameLength = (uint)sizeof(LibC.SockAddrLl),
                    Iov = &iov[2 * j],
                    IovLength = 2,
                    Control = controlLength == 0 ? null : control + (j * ControlSize),
                    ControlLength = (nuint)controlLength,
                };
            }
            Volatile.Write(ref _lastIfIndex, hops[first].IfIndex);

            var start = 0;
            while (start < count)
            {
                batch.Stamp(first + start, count - start);
                if (keyed)
                {
                    stamps.Sent(count - start);
                }
                var sent = LibC.sendmmsg(hold.Fd, messages + start, (uint)(count - start), 0);
                if (keyed)
                {
                    stamps.Sent(-(count - start - Math.Max(0, sent)));
                }
                if (sent < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }
                    if (errno == LibC.EINVAL && keyed)
                    {
                        // A kernel that takes no per-packet stamp key here: send without it from now on, as the raw path does.
                        _keysRefused = true;
                        keyed = false;
                        StopStamping(owner);
                        for (var j = start; j < count; j++)
                        {
                            messages[j].Header.Control = null;
                            messages[j].Header.ControlLength = 0;
                        }
                        continue;
                    }
                    batch.Packets[first + start].Error = errno;
                    start++;
                }
                else
                {
                    Interlocked.Add(ref _framed, sent);
                    start += sent;
                }
            }
        }
    }

    /// <summary>The IP header the kernel would have written for this packet; for IPv6 also the ICMPv6 checksum (the raw socket computes it).</summary>
    private int WriteIpHeader(Span<byte> header, ref OutgoingPacket packet, in IpKey source, Span<byte> icmp)
    {
        if (_family == IcmpFamily.IPv4)
        {
            header[0] = 0x45;
            header[1] = (byte)packet.TrafficClass;
            BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(20 + packet.Length));
            BinaryPrimitives.WriteUInt16BigEndian(header[4..], (ushort)Interlocked.Increment(ref _ipId));
            // Don't Fragment, as a raw socket sends by default (path MTU discovery, and always with -DontFragment);
            // packets larger than the link's MTU never come here.
            BinaryPrimitives.WriteUInt16BigEndian(header[6..], 0x4000);
            header[8] = (byte)packet.Ttl;
            header[9] = 1;
            BinaryPrimitives.WriteUInt16BigEndian(header[10..], 0);
            BinaryPrimitives.WriteUInt32BigEndian(header[12..], (uint)source.Lo);
            BinaryPrimitives.WriteUInt32BigEndian(header[16..], (uint)packet.Destination.Lo);
            BinaryPrimitives.WriteUInt16BigEndian(header[10..], InternetChecksum.Compute(header[..20]));
            return 20;
        }
        var trafficClass = (uint)packet.TrafficClass & 0xFF;
        BinaryPrimitives.WriteUInt32BigEndian(header, (6u << 28) | (trafficClass << 20));
        BinaryPrimitives.WriteUInt16BigEndian(header[4..], (ushort)packet.Length);
        header[6] = 58;
        header[7] = (byte)packet.Ttl;
        BinaryPrimitives.WriteUInt64BigEndian(header[8..], source.Hi);
        BinaryPrimitives.WriteUInt64BigEndian(header[16..], source.Lo);
        BinaryPrimitives.WriteUInt64BigEndian(header[24..], packet.Destination.Hi);
        BinaryPrimitives.WriteUInt64BigEndian(header[32..], packet.Destination.Lo);
        // ICMPv6 checksum over the pseudo-header (addresses, length, next header) and the message.
        Span<byte> pseudo = stackalloc byte[40];
        header.Slice(8, 32).CopyTo(pseudo);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo[32..], (uint)packet.Length);
        BinaryPrimitives.WriteUInt32BigEndian(pseudo[36..], 58);
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], 0);
        uint sum = (ushort)~InternetChecksum.Compute(pseudo);
        sum += (ushort)~InternetChecksum.Compute(icmp);
        sum = (sum >> 16) + (sum & 0xFFFF);
        sum += sum >> 16;
        BinaryPrimitives.WriteUInt16BigEndian(icmp[2..], (ushort)~sum);
        return 40;
    }

    /// <summary>No stamps from now on: without keys they cannot be told apart, and undrained they would fill the error queues.</summary>
    public void StopStamping(object owner)
    {
        _keysRefused = true;
        foreach (var socket in _sockets)
        {
            using var hold = SocketHold.Take(socket, owner);
            TransmitTimestamps.Disable(hold.Fd);
        }
    }

    /// <summary>
    /// Closes the packet sockets on a thread of their own: the kernel waits out an RCU grace period in every packet
    /// socket's release (packet_release calls synchronize_net), 10 to 25 ms each here, which made every cmdlet call
    /// on the frame path end 40 to 50 ms after its answer. Nothing sends on them once the transport is disposed.
    /// </summary>
    public void Dispose()
    {
        var sockets = _sockets;
        _ = Task.Factory.StartNew(() =>
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        _routes.Dispose();
    }
}
