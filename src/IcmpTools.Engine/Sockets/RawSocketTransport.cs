using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using Microsoft.Win32.SafeHandles;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// A Linux raw ICMP socket driven with sendmmsg/recvmmsg, kernel receive timestamps (SO_TIMESTAMPNS)
/// and per-packet TTL / traffic class / source through control messages, so one socket per family
/// serves every operation whatever options each one uses.
/// </summary>
public sealed unsafe class RawSocketTransport : IIcmpTransport, ISendPathReport, IPathMtuSource
{
    /// <summary>Packets taken per receive call: enough to drain a sweep's burst in few system calls.</summary>
    private const int BurstReceiveCapacity = 64;

    /// <summary>
    /// Packets per receive call for a user of a few probes (no frame path: a path MTU search). Each slot holds the largest
    /// datagram (64 KB), so 64 of them pinned 4.2 MB: with an IPv4 prober kept open between searches, the IPv6 one opened
    /// next could not reuse its buffer, and allocating another set off a full (gen 2) collection in the middle of that
    /// first IPv6 search (bench/results/h21-mtufirst.md).
    /// </summary>
    private const int FewProbesReceiveCapacity = 4;

    /// <summary>Packets taken per receive call (<see cref="BurstReceiveCapacity"/> or <see cref="FewProbesReceiveCapacity"/>).</summary>
    internal int ReceiveCapacity { get; }

    /// <summary>Largest IP datagram plus slack: a 65,500-byte payload's reply must arrive whole to be checked.</summary>
    private const int SlotSize = 65_600;

    private const int NameSize = 32;
    private const int ReceiveControlSize = 128;
    /// <summary>Room for the largest control block a packet gets: IPv6 hop limit (24) + traffic class (24) + pktinfo (40) + stamp key (24).</summary>
    private const int SendControlSize = 128;
    private const int ReceiveBufferBytes = 16 * 1024 * 1024;
    private const int SendBufferBytes = 4 * 1024 * 1024;

    private readonly Socket _socket;
    /// <summary>
    /// Sockets that only send, one per core (up to 4). The kernel forwards a packet (on a routed path, through
    /// every hop) inside the send call while holding that socket's lock, so one socket serialises all sends
    /// however many threads call; their type filter blocks everything, so no reply is copied to them.
    /// </summary>
    private readonly Socket[] _senders;
    private int _nextSender;
    /// <summary>The eventfd that wakes the receive loop; a SafeHandle, so a Wake racing Dispose never writes to a reused descriptor.</summary>
    private readonly SafeFileHandle _wake;
    private readonly LibC.MMsgHdr* _recvMessages;
    private readonly LibC.IoVec* _recvIov;
    private readonly byte* _recvNames;
    private readonly byte* _recvControl;
    private readonly ReceiveBatch _receiveBatch;
    private readonly TimeProvider _clock;
    private readonly TransmitTimestamps _stamps = new();
    /// <summary>Every send-only socket stamps its packets and the kernel takes per-packet keys (cleared at the first EINVAL).</summary>
    private volatile bool _keyed;
    /// <summary>The Ethernet send path (packet sockets) where the kernel gives a plain next hop; null where it cannot be had.</summary>
    private readonly FrameSender? _frames;
    private int _disposed;
    /// <summary>With DontFragment only: what a send refused with EMSGSIZE was measured against.</summary>
    private readonly KernelPathMtu? _pathMtu;

    /// <summary>
    /// The control message type that carries a packet's stamp key. Tests set one no kernel knows, so that this
    /// kernel refuses the key as a kernel before 6.13 refuses SCM_TS_OPT_ID, and the fallback runs.
    /// </summary>
    internal int StampKeyType { get; init; } = LibC.SCM_TS_OPT_ID;

    public RawSocketTransport(IcmpFamily family, bool dontFragment, TimeProvider? clock = null, string? interfaceName = null,
        bool broadcast = false, bool framePath = true)
    {
        PlatformSupport.ThrowIfUnsupported();
        Family = family;
        _clock = clock ?? TimeProvider.System;
        ReceiveCapacity = framePath ? BurstReceiveCapacity : FewProbesReceiveCapacity;
        _socket = Open(family);
        _senders = new Socket[Math.Clamp(Environment.ProcessorCount, 1, 4)];
        try
        {
            Configure(_socket, dontFragment, receives: true);
            ConfigureRoute(_socket, interfaceName, broadcast);
            _keyed = true;
            for (var i = 0; i < _senders.Length; i++)
            {
                _senders[i] = Open(family);
                Configure(_senders[i], dontFragment, receives: false);
                ConfigureRoute(_senders[i], interfaceName, broadcast);
                _keyed &= TransmitTimestamps.Enable((int)_senders[i].Handle);
            }
            if (!_keyed)
            {
                StopStamping();
            }
            var wakeFd = LibC.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
            if (wakeFd < 0)
            {
                throw new SocketUnavailableException($"eventfd failed (errno {Marshal.GetLastPInvokeError()}).");
            }
            _wake = new SafeFileHandle(wakeFd, ownsHandle: true);
            // Not with -Interface or -Broadcast: the kernel's lookup then depends on the socket, which frames skip.
            if (interfaceName is null && !broadcast && framePath)
            {
                _frames = FrameSender.TryOpen(family, _senders.Length, _keyed);
            }
        }
        catch
        {
            _socket.Dispose();
            foreach (var sender in _senders)
            {
                sender?.Dispose();
            }
            _stamps.Dispose();
            throw;
        }

        // Last: nothing after it can throw and leave it open.
        _pathMtu = dontFragment ? KernelPathMtu.TryOpen(family) : null;
        _receiveBatch = new ReceiveBatch(ReceiveCapacity, SlotSize);
        _recvMessages = (LibC.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(ReceiveCapacity * sizeof(LibC.MMsgHdr)));
        _recvIov = (LibC.IoVec*)NativeMemory.AllocZeroed((nuint)(ReceiveCapacity * sizeof(LibC.IoVec)));
        _recvNames = (byte*)NativeMemory.AllocZeroed((nuint)(ReceiveCapacity * NameSize));
        _recvControl = (byte*)NativeMemory.AllocZeroed((nuint)(ReceiveCapacity * ReceiveControlSize));
        var buffer = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_receiveBatch.Buffer, 0);
        for (var i = 0; i < ReceiveCapacity; i++)
        {
            _recvIov[i].Base = buffer + ((long)i * SlotSize);
            _recvIov[i].Length = SlotSize;
            _recvMessages[i].Header.Iov = &_recvIov[i];
            _recvMessages[i].Header.IovLength = 1;
            _recvMessages[i].Header.Name = _recvNames + (i * NameSize);
            _recvMessages[i].Header.Control = _recvControl + (i * ReceiveControlSize);
        }
    }

    public IcmpFamily Family { get; }
    public SocketKind Kind => SocketKind.Raw;
    public int? KernelIdentifier => null;
    public bool MoreQueued { get; private set; }

    private static Socket Open(IcmpFamily family) => IcmpSockets.Open(family, SocketType.Raw, static () =>
        "Opening a raw ICMP socket needs root or the CAP_NET_RAW capability. Run elevated, or grant the " +
        "capability to the PowerShell host: sudo setcap cap_net_raw+ep \"$(readlink -f $(which pwsh))\".");

    private void Configure(Socket socket, bool dontFragment, bool receives)
    {
        // Only while the constructor owns the socket: nothing can close it under us here.
        var fd = (int)socket.Handle;
        if (receives)
        {
            // A large buffer: a sweep's replies arrive in bursts faster than any user-space loop drains
            // them, and a dropped reply is a host wrongly reported dead. FORCE needs CAP_NET_ADMIN.
            if (!TrySetInt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, ReceiveBufferBytes))
            {
                TrySetInt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, ReceiveBufferBytes);
            }
            SetInt(fd, LibC.SOL_SOCKET, LibC.SO_TIMESTAMPNS, 1);
        }
        else if (!TrySetInt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUFFORCE, SendBufferBytes))
        {
            TrySetInt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUF, SendBufferBytes);
        }

        if (Family == IcmpFamily.IPv4)
        {
            // A raw IPv4 socket sees every ICMP packet of the namespace; let the kernel drop all but the
            // types that can answer a probe (a set bit blocks that type), and everything for send-only sockets.
            var blocked = receives
                ? ~((1u << IcmpTypes.V4EchoReply) | (1u << IcmpTypes.V4DestinationUnreachable)
                    | (1u << IcmpTypes.V4TimeExceeded) | (1u << IcmpTypes.V4ParameterProblem))
                : uint.MaxValue;
            SetRaw(fd, LibC.SOL_RAW, LibC.ICMP_FILTER, new ReadOnlySpan<byte>(&blocked, sizeof(uint)));
            if (dontFragment)
            {
                SetInt(fd, LibC.IPPROTO_IP, LibC.IP_MTU_DISCOVER, LibC.IP_PMTUDISC_DO);
            }
        }
        else
        {
            Span<uint> filter = stackalloc uint[8];
            filter.Fill(uint.MaxValue);
            if (receives)
            {
                foreach (var type in (ReadOnlySpan<byte>)[IcmpTypes.V6EchoReply, IcmpTypes.V6DestinationUnreachable,
                    IcmpTypes.V6PacketTooBig, IcmpTypes.V6TimeExceeded, IcmpTypes.V6ParameterProblem])
                {
                    filter[type >> 5] &= ~(1u << (type & 31));
                }
                SetInt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_RECVHOPLIMIT, 1);
            }
            SetRaw(fd, LibC.IPPROTO_ICMPV6, LibC.ICMP6_FILTER, MemoryMarshal.AsBytes(filter));
            if (dontFragment)
            {
                SetInt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_DONTFRAG, 1);
            }
        }
    }

    /// <summary>-Interface (SO_BINDTODEVICE) and -Broadcast (SO_BROADCAST) on every socket of the transport.</summary>
    private static void ConfigureRoute(Socket socket, string? interfaceName, bool broadcast)
    {
        // Only while the constructor owns the socket, as in Configure.
        var fd = (int)socket.Handle;
        if (broadcast)
        {
            SetInt(fd, LibC.SOL_SOCKET, SocketOptions.SO_BROADCAST, 1);
        }
        if (!string.IsNullOrEmpty(interfaceName))
        {
            SocketOptions.BindToDevice(fd, interfaceName);
        }
    }

    private static bool TrySetInt(int fd, int level, int name, int value) =>
        LibC.setsockopt(fd, level, name, &value, sizeof(int)) == 0;

    private static void SetInt(int fd, int level, int name, int value)
    {
        if (!TrySetInt(fd, level, name, value))
        {
            throw new SocketUnavailableException($"setsockopt({level}, {name}) failed (errno {Marshal.GetLastPInvokeError()}).");
        }
    }

    private static void SetRaw(int fd, int level, int name, ReadOnlySpan<byte> value)
    {
        fixed (byte* p = value)
        {
            if (LibC.setsockopt(fd, level, name, p, (uint)value.Length) != 0)
            {
                throw new SocketUnavailableException($"setsockopt({level}, {name}) failed (errno {Marshal.GetLastPInvokeError()}).");
            }
        }
    }

    /// <summary>The Ethernet send path, for tests; null where it is not taken.</summary>
    internal FrameSender? Frames => _frames;

    /// <summary>Which path sends took, for -Verbose; null when every packet went through the raw socket by design.</summary>
    public string? SendPathSummary => _frames?.Describe();

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Send(SendBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var count = batch.Count;
        if (count == 0)
        {
            return;
        }
        if (_frames is null)
        {
            SendRaw(batch, 0, count);
            return;
        }
        // Runs of packets that take the same path, in order: a sweep through one gateway is one run of frames.
        Span<NextHop> hops = stackalloc NextHop[SendBatch.MaxCapacity];
        Span<bool> framed = stackalloc bool[SendBatch.MaxCapacity];
        _frames.Classify(batch, hops, framed);
        var first = 0;
        while (first < count)
        {
            var end = first + 1;
            while (end < count && framed[end] == framed[first])
            {
                end++;
            }
            if (framed[first])
            {
                _frames.Send(batch, first, end - first, hops, _keyed, _stamps, this);
            }
            else
            {
                SendRaw(batch, first, end - first);
            }
            first = end;
        }
    }

    /// <summary>Sends packets [<paramref name="first"/>, <paramref name="first"/>+<paramref name="count"/>) through a raw send-only socket.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SendRaw(SendBatch batch, int first, int count)
    {
        // Fixed-size blocks: a batch never holds more than SendBatch.MaxCapacity packets, whoever built it.
        var messages = stackalloc LibC.MMsgHdr[SendBatch.MaxCapacity];
        var iov = stackalloc LibC.IoVec[SendBatch.MaxCapacity];
        var names = stackalloc byte[SendBatch.MaxCapacity * NameSize];
        var control = stackalloc byte[SendBatch.MaxCapacity * SendControlSize];
        new Span<byte>(names, count * NameSize).Clear();
        new Span<byte>(control, count * SendControlSize).Clear();

        // Concurrent calls take different sockets, so their kernel work runs on their own cores.
        var socket = _senders[(uint)Interlocked.Increment(ref _nextSender) % (uint)_senders.Length];
        using var hold = SocketHold.Take(socket.SafeHandle, this);
        fixed (byte* buffer = batch.Buffer)
        {
            for (var i = 0; i < count; i++)
            {
                ref var p = ref batch.Packets[first + i];
                iov[i].Base = buffer + p.Offset;
                iov[i].Length = (nuint)p.Length;
                var name = names + (i * NameSize);
                var nameLength = SocketOptions.WriteSockAddr(new Span<byte>(name, NameSize), Family, p.Destination);
                var controlLength = WriteSendControl(new Span<byte>(control + (i * SendControlSize), SendControlSize), ref p, _keyed);
                messages[i].Header = new LibC.MsgHdr
                {
                    Name = name,
                    NameLength = (uint)nameLength,
                    Iov = &iov[i],
                    IovLength = 1,
                    Control = controlLength == 0 ? null : control + (i * SendControlSize),
                    ControlLength = (nuint)controlLength,
                };
            }

            var keyed = _keyed;
            var start = 0;
            while (start < count)
            {
                batch.Stamp(first + start, count - start);
                // Counted before the call: on loopback and veth the answers come back, and the receive loop
                // reads them, while sendmmsg is still sending; it must know their stamps are there to drain.
                if (keyed)
                {
                    _stamps.Sent(count - start);
                }
                var sent = LibC.sendmmsg(hold.Fd, messages + start, (uint)(count - start), 0);
                if (keyed)
                {
                    _stamps.Sent(-(count - start - Math.Max(0, sent)));
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
                        // A kernel before 6.13 refuses the per-packet stamp key: send without it from now on,
                        // keeping the user-space stamp for RTTs, and retry these packets as they are meant.
                        _keyed = keyed = false;
                        StopStamping();
                        for (var i = start; i < count; i++)
                        {
                            ref var p = ref batch.Packets[first + i];
                            var controlLength = WriteSendControl(new Span<byte>(control + (i * SendControlSize), SendControlSize), ref p, keyed: false);
                            messages[i].Header.Control = controlLength == 0 ? null : control + (i * SendControlSize);
                            messages[i].Header.ControlLength = (nuint)controlLength;
                        }
                        continue;
                    }
                    // sendmmsg reports an error only for the first message it could not send; mark it
                    // and go on with the rest, so one unroutable target does not sink the batch.
                    batch.Packets[first + start].Error = errno;
                    start++;
                }
                else
                {
                    start += sent;
                }
            }
        }
    }

    /// <summary>Sends without stamp keys from now on, on every send-only socket (each sender that falls back does it; it is idempotent).</summary>
    private void StopStamping()
    {
        foreach (var sender in _senders)
        {
            using var hold = SocketHold.Take(sender.SafeHandle, this);
            TransmitTimestamps.Disable(hold.Fd);
        }
        _frames?.StopStamping(this);
    }

    /// <summary>The stamp key first (when the kernel takes one), then the options every ICMP socket sends with.</summary>
    private int WriteSendControl(Span<byte> control, ref OutgoingPacket packet, bool keyed)
    {
        var length = keyed ? TransmitTimestamps.WriteKey(control, packet.Key, StampKeyType) : 0;
        return length + SocketOptions.WriteSendControl(control[length..], Family, ref packet);
    }

    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Receive(int timeoutMilliseconds, IMessageSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (Volatile.Read(ref _disposed) != 0)
        {
            return 0;
        }
        using var hold = SocketHold.Take(_socket.SafeHandle, this);
        // After a full batch more is almost surely queued: skip poll and read straight away.
        if (!MoreQueued && !WaitReadable(hold.Fd, timeoutMilliseconds))
        {
            // Stamps of probes nobody answered would fill their sockets' queues: read them while idle too.
            DrainStamps(sink);
            return 0;
        }
        for (var i = 0; i < ReceiveCapacity; i++)
        {
            _recvMessages[i].Header.NameLength = NameSize;
            _recvMessages[i].Header.ControlLength = ReceiveControlSize;
            _recvMessages[i].Header.Flags = 0;
        }
        var n = LibC.recvmmsg(hold.Fd, _recvMessages, (uint)ReceiveCapacity, LibC.MSG_DONTWAIT | LibC.MSG_TRUNC, null);
        var received = _clock.GetTimestamp();
        if (n <= 0)
        {
            MoreQueued = false;
            return 0;
        }
        MoreQueued = n == ReceiveCapacity;
        // The kernel queues a packet's stamp before the packet can be answered, so every answer just read
        // has its probe's stamp waiting: take the stamps first, then hand over the answers.
        DrainStamps(sink);
        for (var i = 0; i < n; i++)
        {
            ref var header = ref _recvMessages[i];
            var fullLength = (int)header.Length;
            var data = _receiveBatch.Slot(i)[..Math.Min(fullLength, SlotSize)];
            var source = ReadSockAddr(new ReadOnlySpan<byte>(header.Header.Name, (int)header.Header.NameLength));
            ReadControl(new ReadOnlySpan<byte>(header.Header.Control, (int)header.Header.ControlLength), out var kernelNs, out var hopLimit);
            if (RawFraming.TryRead(Family, data, fullLength, source, hopLimit, kernelNs, received, out var message, out var payload))
            {
                sink.OnMessage(in message, payload);
            }
        }
        return n;
    }

    /// <summary>Reads and counts what waits on the send-only sockets' error queues (tests: kernel memory left behind).</summary>
    internal int DrainSendErrorQueues()
    {
        var count = 0;
        var data = stackalloc byte[64];
        var control = stackalloc byte[256];
        var iov = new LibC.IoVec { Base = data, Length = 64 };
        foreach (var sender in _senders)
        {
            using var hold = SocketHold.Take(sender.SafeHandle, this);
            while (true)
            {
                var message = new LibC.MMsgHdr { Header = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 256 } };
                if (LibC.recvmmsg(hold.Fd, &message, 1, LibC.MSG_ERRQUEUE | LibC.MSG_DONTWAIT, null) <= 0)
                {
                    break;
                }
                count++;
            }
        }
        return count;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void DrainStamps(IMessageSink sink)
    {
        if (!_stamps.AnyOutstanding)
        {
            return;
        }
        foreach (var sender in _senders)
        {
            using var hold = SocketHold.Take(sender.SafeHandle, this);
            _stamps.Drain(hold.Fd, Family, sink);
        }
        if (_frames is not null)
        {
            foreach (var frames in _frames.Sockets)
            {
                using var hold = SocketHold.Take(frames, this);
                _stamps.Drain(hold.Fd, Family, sink);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool WaitReadable(int fd, int timeoutMilliseconds)
    {
        using var wake = SocketHold.Take(_wake, this);
        var fds = stackalloc LibC.PollFd[2];
        fds[0] = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN };
        fds[1] = new LibC.PollFd { Fd = wake.Fd, Events = LibC.POLLIN };
        var ready = LibC.poll(fds, 2, timeoutMilliseconds);
        if (ready <= 0)
        {
            return false;
        }
        if (fds[1].REvents != 0)
        {
            ulong drained;
            _ = LibC.read(wake.Fd, &drained, sizeof(ulong));
        }
        return fds[0].REvents != 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static IpKey ReadSockAddr(ReadOnlySpan<byte> name)
    {
        if (name.Length >= 8 && BinaryPrimitives.ReadUInt16LittleEndian(name) == LibC.AF_INET)
        {
            return IpKey.FromV4(name.Slice(4, 4));
        }
        if (name.Length >= 24 && BinaryPrimitives.ReadUInt16LittleEndian(name) == LibC.AF_INET6)
        {
            return IpKey.FromV6(name.Slice(8, 16));
        }
        return default;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ReadControl(ReadOnlySpan<byte> control, out long kernelRealtimeNs, out int hopLimit)
    {
        kernelRealtimeNs = 0;
        hopLimit = -1;
        var headerSize = LibC.CmsgAlign(sizeof(LibC.CMsgHdr));
        while (control.Length >= headerSize)
        {
            var header = MemoryMarshal.Read<LibC.CMsgHdr>(control);
            var length = (int)header.Length;
            if (length < headerSize || length > control.Length)
            {
                return;
            }
            var data = control[headerSize..length];
            if (header.Level == LibC.SOL_SOCKET && header.Type == LibC.SO_TIMESTAMPNS && data.Length >= 16)
            {
                var ts = MemoryMarshal.Read<LibC.TimeSpec>(data);
                kernelRealtimeNs = (ts.Seconds * 1_000_000_000L) + ts.Nanoseconds;
            }
            else if (header.Level == LibC.IPPROTO_IPV6 && header.Type == LibC.IPV6_HOPLIMIT && data.Length >= 4)
            {
                hopLimit = MemoryMarshal.Read<int>(data);
            }
            var advance = LibC.CmsgAlign(length);
            if (advance >= control.Length)
            {
                return;
            }
            control = control[advance..];
        }
    }

    public void Wake()
    {
        var added = false;
        try
        {
            _wake.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException)
        {
            // Closed: nobody is left to wake.
            return;
        }
        try
        {
            ulong one = 1;
            _ = LibC.write((int)_wake.DangerousGetHandle(), &one, sizeof(ulong));
        }
        finally
        {
            if (added)
            {
                _wake.DangerousRelease();
            }
        }
    }

    public int PathMtu(in IpKey destination) => _pathMtu?.Query(destination) ?? 0;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _pathMtu?.Dispose();
        // The SafeHandles close their descriptors only once every call holding them has returned.
        _socket.Dispose();
        foreach (var sender in _senders)
        {
            sender.Dispose();
        }
        _wake.Dispose();
        _frames?.Dispose();
        _stamps.Dispose();
        // Only the receive loop uses these, and the prober disposes the transport after that loop has ended.
        _receiveBatch.Release();
        NativeMemory.Free(_recvMessages);
        NativeMemory.Free(_recvIov);
        NativeMemory.Free(_recvNames);
        NativeMemory.Free(_recvControl);
    }
}
