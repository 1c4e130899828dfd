using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using Microsoft.Win32.SafeHandles;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// A Linux datagram ICMP socket (<c>SOCK_DGRAM</c> + <c>IPPROTO_ICMP</c> / <c>IPPROTO_ICMPV6</c>, the
/// "ping socket"): no privilege needed where <c>net.ipv4.ping_group_range</c> admits the process's group.
/// The kernel owns the echo identifier (the socket's port: it rewrites every request's and delivers only the
/// replies that carry it), so matching rests on the payload cookie; replies arrive without IP header. ICMP
/// errors never arrive as datagrams: with IP_RECVERR / IPV6_RECVERR they wait in the socket's error queue
/// (<see cref="LinuxErrorQueue"/>), which poll() reports as POLLERR and this transport drains on every receive.
/// </summary>
/// <remarks>
/// IPv4 sends go through send-only sockets, one per core (up to 4), bound to the same identifier as the receiving
/// socket (SO_REUSEADDR while binding, cleared after, so no other socket can join later). The kernel hands a
/// reply or error to the most recently bound socket of an identifier (ping_get_port adds at the head of the
/// hash chain), so the receiving socket, bound last, gets them all. Two things follow: sends spread over cores
/// as on the raw transport (the kernel runs a packet's whole path inside the send, holding the socket's
/// lock), and a send never fails with the pending error (sk_err) that each queued ICMP error leaves on the
/// socket that receives it, since the senders receive nothing. Every socket carries the one identifier, so
/// checksums stay flow-stable. IPv6 replies do not follow that order on this kernel, so IPv6 sends on the
/// receiving socket, where a send failing with a pending ICMP error is sent again. That is not airtight: reading
/// the error queue re-arms the pending error (sock_dequeue_err_skb), so under a burst of thousands of errors a
/// few IPv6 sends can still fail after every retry (SendFailed, errno 113); why IPv6 ping sockets do not follow
/// the IPv4 lookup order is not yet understood.
/// </remarks>
public sealed unsafe class DatagramSocketTransport : IIcmpTransport, IPathMtuSource
{
    private const int ReceiveCapacity = 64;
    /// <summary>The ICMP message of the largest datagram, plus slack: a 65,500-byte payload's reply must arrive whole.</summary>
    private const int SlotSize = 65_600;
    private const int NameSize = 32;
    /// <summary>
    /// Fixed per-message control room: timestamp (32) + TTL (24) + sock_extended_err with a sockaddr_in6 (16 + 16 + 28,
    /// aligned 64) is 120 bytes; 256 leaves slack for anything the kernel adds.
    /// </summary>
    private const int ReceiveControlSize = 256;
    /// <summary>IPv6 hop limit (24) + traffic class (24) + pktinfo (40).</summary>
    private const int SendControlSize = 96;
    private const int ReceiveBufferBytes = 16 * 1024 * 1024;
    private const int SendBufferBytes = 4 * 1024 * 1024;
    /// <summary>Sends of one message retried after a pending ICMP error; each try consumes one such error.</summary>
    private const int PendingErrorRetries = 64;
    /// <summary>The bound on retries while errors are queued: the receive loop drains them meanwhile.</summary>
    private const int MaxPendingErrorRetries = 65_536;
    private const int Eacces = 13;
    private const int Enoprotoopt = 92;
    private const int Eproto = 71;
    private const int Emsgsize = 90;
    private const int Eopnotsupp = 95;
    private const int Enetunreach = 101;
    private const int Econnrefused = 111;
    private const int Ehostdown = 112;
    private const int Ehostunreach = 113;

    /// <summary>The socket every reply and error arrives on (bound last).</summary>
    private readonly Socket _socket;
    private readonly Socket[] _senders;
    private int _nextSender;
    private readonly object _sendGate = new();
    /// <summary>The eventfd that wakes the receive loop; a SafeHandle, so a Wake racing Dispose never writes to a reused descriptor.</summary>
    private readonly SafeFileHandle _wake;
    private readonly LibC.MMsgHdr* _recvMessages;
    private readonly LibC.IoVec* _recvIov;
    private readonly byte* _recvNames;
    private readonly byte* _recvControl;
    private readonly ReceiveBatch _receiveBatch;
    private readonly TimeProvider _clock;
    private int _disposed;
    /// <summary>With DontFragment only: what a send refused with EMSGSIZE was measured against.</summary>
    private readonly KernelPathMtu? _pathMtu;

    /// <summary>Opens and configures the socket in the calling thread's network namespace.</summary>
    /// <exception cref="SocketPermissionException">ping_group_range does not admit this process's group.</exception>
    /// <exception cref="SocketUnavailableException">The socket cannot be opened or configured (no such interface ...).</exception>
    public DatagramSocketTransport(IcmpFamily family, bool dontFragment, TimeProvider? clock = null, string? interfaceName = null,
        bool broadcast = false)
    {
        PlatformSupport.ThrowIfUnsupported();
        Family = family;
        _clock = clock ?? TimeProvider.System;
        // IPv6 sends on the receiving socket itself: measured here, its replies do not follow the most recently
        // bound socket of a shared identifier as IPv4's do, so sharing would lose them.
        _senders = new Socket[family == IcmpFamily.IPv4 ? Math.Clamp(Environment.ProcessorCount, 1, 4) : 0];
        _socket = Open(family);
        try
        {
            var any = family == IcmpFamily.IPv4 ? IPAddress.Any : IPAddress.IPv6Any;
            // Binding to port 0 makes the kernel choose the identifier now rather than at the first send,
            // so it is known before any request is written (flow-stable probing compensates checksums with it).
            var identifier = 0;
            for (var i = 0; i < _senders.Length; i++)
            {
                _senders[i] = Open(family);
                // Only while the constructor owns the sockets: nothing can close them under us here.
                ConfigureSender((int)_senders[i].Handle, dontFragment, interfaceName, broadcast);
                _senders[i].SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
                _senders[i].Bind(new IPEndPoint(any, identifier));
                identifier = ((IPEndPoint)_senders[i].LocalEndPoint!).Port;
            }
            Configure((int)_socket.Handle, dontFragment, interfaceName, broadcast);
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, _senders.Length > 0);
            _socket.Bind(new IPEndPoint(any, identifier));
            identifier = ((IPEndPoint)_socket.LocalEndPoint!).Port;
            // Closed again: no socket bound from now on (another program's included) can share the identifier.
            _socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, false);
            foreach (var sender in _senders)
            {
                sender.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, false);
            }
            KernelIdentifier = identifier;
            var wakeFd = LibC.eventfd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
            if (wakeFd < 0)
            {
                throw new SocketUnavailableException($"eventfd failed (errno {Marshal.GetLastPInvokeError()}).");
            }
            _wake = new SafeFileHandle(wakeFd, ownsHandle: true);
        }
        catch (Exception e) when (e is SocketException or IcmpException)
        {
            _socket.Dispose();
            foreach (var sender in _senders)
            {
                sender?.Dispose();
            }
            if (e is SocketException socketError)
            {
                throw new SocketUnavailableException($"Could not set up a datagram {family} ICMP socket: {socketError.Message}", socketError);
            }
            throw;
        }

        // Last: nothing after it can throw and leave it open.
        _pathMtu = dontFragment ? KernelPathMtu.TryOpen(family) : null;
        _receiveBatch = new ReceiveBatch(ReceiveCapacity, SlotSize);
        var buffer = (byte*)Marshal.UnsafeAddrOfPinnedArrayElement(_receiveBatch.Buffer, 0);
        _recvMessages = (LibC.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(ReceiveCapacity * sizeof(LibC.MMsgHdr)));
        _recvIov = (LibC.IoVec*)NativeMemory.AllocZeroed((nuint)(ReceiveCapacity * sizeof(LibC.IoVec)));
        _recvNames = (byte*)NativeMemory.AllocZeroed(ReceiveCapacity * NameSize);
        _recvControl = (byte*)NativeMemory.AllocZeroed(ReceiveCapacity * ReceiveControlSize);
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
    public SocketKind Kind => SocketKind.Datagram;
    /// <summary>The identifier the kernel writes on every request of this socket (its port, from getsockname).</summary>
    public int? KernelIdentifier { get; }
    public bool MoreQueued { get; private set; }

    // EACCES: the group is outside ping_group_range ("1 0", the default, admits nobody, root included).
    private static Socket Open(IcmpFamily family) => IcmpSockets.Open(family, SocketType.Dgram, PermissionAdvice.DatagramDenied);

    /// <summary>
    /// A send-only socket: what shapes the packets it sends (broadcast permission, the interface, DF), and no
    /// IP_RECVERR, so even an ICMP error routed to it could never leave a pending error that fails a send.
    /// </summary>
    private void ConfigureSender(int fd, bool dontFragment, string? interfaceName, bool broadcast)
    {
        if (!TrySetInt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUFFORCE, SendBufferBytes))
        {
            TrySetInt(fd, LibC.SOL_SOCKET, LibC.SO_SNDBUF, SendBufferBytes);
        }
        if (broadcast)
        {
            SetInt(fd, LibC.SOL_SOCKET, SocketOptions.SO_BROADCAST, 1);
        }
        if (!string.IsNullOrEmpty(interfaceName))
        {
            SocketOptions.BindToDevice(fd, interfaceName);
        }
        if (dontFragment)
        {
            if (Family == IcmpFamily.IPv4)
            {
                SetInt(fd, LibC.IPPROTO_IP, LibC.IP_MTU_DISCOVER, LibC.IP_PMTUDISC_DO);
            }
            else
            {
                SetInt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_DONTFRAG, 1);
            }
        }
    }

    private void Configure(int fd, bool dontFragment, string? interfaceName, bool broadcast)
    {
        // The unprivileged SO_RCVBUF is capped by net.core.rmem_max; FORCE works only with CAP_NET_ADMIN.
        if (!TrySetInt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, ReceiveBufferBytes))
        {
            TrySetInt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, ReceiveBufferBytes);
        }
        SetInt(fd, LibC.SOL_SOCKET, LibC.SO_TIMESTAMPNS, 1);
        if (broadcast)
        {
            SetInt(fd, LibC.SOL_SOCKET, SocketOptions.SO_BROADCAST, 1);
        }
        if (!string.IsNullOrEmpty(interfaceName))
        {
            SocketOptions.BindToDevice(fd, interfaceName);
        }
        if (Family == IcmpFamily.IPv4)
        {
            SetInt(fd, LibC.IPPROTO_IP, LinuxErrorQueue.IP_RECVERR, 1);
            TrySetInt(fd, LibC.IPPROTO_IP, LinuxErrorQueue.IP_RECVERR_RFC4884, 1);
            SetInt(fd, LibC.IPPROTO_IP, LinuxErrorQueue.IP_RECVTTL, 1);
            if (dontFragment)
            {
                SetInt(fd, LibC.IPPROTO_IP, LibC.IP_MTU_DISCOVER, LibC.IP_PMTUDISC_DO);
            }
        }
        else
        {
            SetInt(fd, LibC.IPPROTO_IPV6, LinuxErrorQueue.IPV6_RECVERR, 1);
            TrySetInt(fd, LibC.IPPROTO_IPV6, LinuxErrorQueue.IPV6_RECVERR_RFC4884, 1);
            SetInt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_RECVHOPLIMIT, 1);
            if (dontFragment)
            {
                SetInt(fd, LibC.IPPROTO_IPV6, LibC.IPV6_DONTFRAG, 1);
            }
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Send(SendBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_senders.Length == 0)
        {
            // One socket sends and receives (IPv6): one sender at a time, so the pending error a retry consumes
            // is one this sender's own last packet caused, not a stream another thread keeps setting. The
            // kernel serialises sends on one socket anyway (lock_sock), so this costs no parallelism.
            lock (_sendGate)
            {
                SendOn(_socket, batch);
            }
            return;
        }
        SendOn(_senders[(uint)Interlocked.Increment(ref _nextSender) % (uint)_senders.Length], batch);
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SendOn(Socket socket, SendBatch batch)
    {
        var count = batch.Count;
        if (count == 0)
        {
            return;
        }
        // Fixed-size blocks: a batch never holds more than SendBatch.MaxCapacity packets, whoever built it.
        var messages = stackalloc LibC.MMsgHdr[SendBatch.MaxCapacity];
        var iov = stackalloc LibC.IoVec[SendBatch.MaxCapacity];
        var names = stackalloc byte[SendBatch.MaxCapacity * NameSize];
        var control = stackalloc byte[SendBatch.MaxCapacity * SendControlSize];
        new Span<byte>(names, count * NameSize).Clear();
        new Span<byte>(control, count * SendControlSize).Clear();

        // A hold on the handle for the whole call: a Dispose racing this send cannot close the descriptor
        // under it (and let a new file reuse the number).
        // Concurrent calls take different sockets (IPv4), so their kernel work runs on their own cores.
        using var hold = SocketHold.Take(socket.SafeHandle, this);
        fixed (byte* buffer = batch.Buffer)
        {
            for (var i = 0; i < count; i++)
            {
                ref var p = ref batch.Packets[i];
                iov[i].Base = buffer + p.Offset;
                iov[i].Length = (nuint)p.Length;
                var name = names + (i * NameSize);
                var nameLength = SocketOptions.WriteSockAddr(new Span<byte>(name, NameSize), Family, p.Destination);
                var controlLength = SocketOptions.WriteSendControl(
                    new Span<byte>(control + (i * SendControlSize), SendControlSize), Family, ref p);
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
            var start = 0;
            var retries = 0;
            while (start < count)
            {
                batch.Stamp(start, count - start);
                var sent = LibC.sendmmsg(hold.Fd, messages + start, (uint)(count - start), 0);
                if (sent < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == LibC.EINTR)
                    {
                        continue;
                    }
                    if (IsPendingIcmpError(errno) && retries++ < MaxPendingErrorRetries
                        && (errno == Emsgsize ? retries == 1 : retries <= PendingErrorRetries || ErrorsQueued(hold.Fd)))
                    {
                        // EMSGSIZE is tried once more only: a pending one (a Packet Too Big for an earlier probe) is
                        // consumed by the first failure, while a send too big for the path itself (-DontFragment)
                        // fails again, each time queueing a local error that "errors are queued" would retry on.
                        // Should a kernel ever hand ICMP errors to a sender (see remarks), the pending error each
                        // leaves fails the next send, consuming it, while the error itself waits in the queue: send
                        // the same message again. A failure of this send (no route) repeats, and gives up soon; under a
                        // burst of errors (a TTL-limited sweep, answered late on a loaded machine) it goes on while
                        // errors wait in the queue, each of which may have set the pending error again.
                        continue;
                    }
                    // As on the raw socket: the failure belongs to the first unsent message only.
                    batch.Packets[start].Error = errno;
                    start++;
                    retries = 0;
                }
                else
                {
                    start += sent;
                    retries = 0;
                }
            }
        }
    }

    /// <summary>Reads and counts what waits on the receiving socket's error queue (tests: what a send left behind).</summary>
    internal int DrainErrorQueue()
    {
        var count = 0;
        var data = stackalloc byte[64];
        var control = stackalloc byte[256];
        var iov = new LibC.IoVec { Base = data, Length = 64 };
        using var hold = SocketHold.Take(_socket.SafeHandle, this);
        while (true)
        {
            var message = new LibC.MMsgHdr { Header = new LibC.MsgHdr { Iov = &iov, IovLength = 1, Control = control, ControlLength = 256 } };
            if (LibC.recvmmsg(hold.Fd, &message, 1, LibC.MSG_ERRQUEUE | LibC.MSG_DONTWAIT, null) <= 0)
            {
                return count;
            }
            count++;
        }
    }

    /// <summary>True while the socket's error queue holds entries (poll reports POLLERR; the pending error itself was just consumed).</summary>
    private static bool ErrorsQueued(int fd)
    {
        var poll = new LibC.PollFd { Fd = fd, Events = LinuxErrorQueue.POLLERR };
        return LibC.poll(&poll, 1, 0) > 0 && (poll.REvents & LinuxErrorQueue.POLLERR) != 0;
    }

    /// <summary>
    /// The errnos the kernel gives ICMP errors (icmp_err_convert, icmpv6_err_convert), which a pending socket
    /// error left by one makes a later, unrelated send fail with.
    /// </summary>
    private static bool IsPendingIcmpError(int errno) => errno is Enetunreach or Ehostunreach or Ehostdown or Econnrefused
        or Enoprotoopt or Eproto or Emsgsize or Eopnotsupp or Eacces;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Receive(int timeoutMilliseconds, IMessageSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        if (Volatile.Read(ref _disposed) != 0)
        {
            return 0;
        }
        using var hold = SocketHold.Take(_socket.SafeHandle, this);
        var events = MoreQueued ? (short)(LibC.POLLIN | LinuxErrorQueue.POLLERR) : WaitReady(hold.Fd, timeoutMilliseconds);
        if (events == 0)
        {
            return 0;
        }
        var errors = (events & LinuxErrorQueue.POLLERR) != 0 ? DrainErrorQueue(hold.Fd, sink) : 0;
        var replies = 0;
        var read = 0;
        if ((events & LibC.POLLIN) != 0)
        {
            replies = ReceiveReplies(hold.Fd, sink, out read);
        }
        MoreQueued = errors == ReceiveCapacity || read == ReceiveCapacity;
        return errors + replies;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private short WaitReady(int fd, int timeoutMilliseconds)
    {
        using var wake = SocketHold.Take(_wake, this);
        var fds = stackalloc LibC.PollFd[2];
        // POLLERR is always reported; asking for it documents that the error queue is half of what we wait on.
        fds[0] = new LibC.PollFd { Fd = fd, Events = LibC.POLLIN | LinuxErrorQueue.POLLERR };
        fds[1] = new LibC.PollFd { Fd = wake.Fd, Events = LibC.POLLIN };
        if (LibC.poll(fds, 2, timeoutMilliseconds) <= 0)
        {
            return 0;
        }
        if (fds[1].REvents != 0)
        {
            ulong drained;
            _ = LibC.read(wake.Fd, &drained, sizeof(ulong));
        }
        return fds[0].REvents;
    }

    /// <summary>Echo replies (ICMP without IP header), up to a batch per call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int ReceiveReplies(int fd, IMessageSink sink, out int read)
    {
        for (var i = 0; i < ReceiveCapacity; i++)
        {
            _recvMessages[i].Header.NameLength = NameSize;
            _recvMessages[i].Header.ControlLength = ReceiveControlSize;
            _recvMessages[i].Header.Flags = 0;
        }
        read = LibC.recvmmsg(fd, _recvMessages, ReceiveCapacity, LibC.MSG_DONTWAIT | LibC.MSG_TRUNC, null);
        var received = _clock.GetTimestamp();
        if (read <= 0)
        {
            // EAGAIN, or the pending socket error (sk_err) each queued ICMP error also sets, which this call
            // consumed: the error itself waits in the error queue and is read on the next POLLERR.
            read = 0;
            return 0;
        }
        var handed = 0;
        for (var i = 0; i < read; i++)
        {
            ref var header = ref _recvMessages[i];
            var fullLength = (int)header.Length;
            var data = _receiveBatch.Slot(i)[..Math.Min(fullLength, SlotSize)];
            LinuxErrorQueue.TryReadSockAddr(new ReadOnlySpan<byte>(header.Header.Name, (int)header.Header.NameLength), out var source);
            LinuxErrorQueue.ReadControl(new ReadOnlySpan<byte>(header.Header.Control, (int)header.Header.ControlLength), out var control);
            if (DatagramFraming.TryReadReply(Family, data, fullLength, source, control.Ttl, control.KernelRealtimeNs, received,
                out var message, out var payload))
            {
                sink.OnMessage(in message, payload);
                handed++;
            }
        }
        return handed;
    }

    /// <summary>
    /// Error-queue entries, one recvmsg each (there is one per ICMP error, far rarer than replies; recvmmsg
    /// does not read the error queue on every kernel), up to a batch per call.
    /// </summary>
    private int DrainErrorQueue(int fd, IMessageSink sink)
    {
        var count = 0;
        var name = stackalloc byte[NameSize];
        var control = stackalloc byte[ReceiveControlSize];
        var slot = _receiveBatch.Slot(0);
        fixed (byte* buffer = slot)
        {
            while (count < ReceiveCapacity)
            {
                var vector = new LibC.IoVec { Base = buffer, Length = (nuint)slot.Length };
                var header = new LibC.MsgHdr
                {
                    Name = name,
                    NameLength = NameSize,
                    Iov = &vector,
                    IovLength = 1,
                    Control = control,
                    ControlLength = ReceiveControlSize,
                };
                var n = (int)LinuxErrorQueue.recvmsg(fd, &header, LinuxErrorQueue.MSG_ERRQUEUE | LibC.MSG_DONTWAIT);
                if (n < 0)
                {
                    break;
                }
                count++;
                var received = _clock.GetTimestamp();
                LinuxErrorQueue.ReadControl(new ReadOnlySpan<byte>(control, (int)header.ControlLength), out var info);
                // A local error (EMSGSIZE with DontFragment ...) has no offender: that send already failed.
                if (LinuxErrorQueue.TryReadSockAddr(new ReadOnlySpan<byte>(name, (int)header.NameLength), out var probed)
                    && DatagramFraming.TryReadError(Family, slot[..Math.Min(n, slot.Length)], in info, in probed, received, out var message))
                {
                    sink.OnMessage(in message, default);
                }
            }
        }
        return count;
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
            _wake.DangerousRelease();
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
        // The SafeSocketHandles close their descriptors only when the last send or receive holding them lets go.
        _socket.Dispose();
        foreach (var sender in _senders)
        {
            sender.Dispose();
        }
        _wake.Dispose();
        // Only the receive loop uses these, and the prober disposes the transport after that loop has ended.
        _receiveBatch.Release();
        NativeMemory.Free(_recvMessages);
        NativeMemory.Free(_recvIov);
        NativeMemory.Free(_recvNames);
        NativeMemory.Free(_recvControl);
    }
}
