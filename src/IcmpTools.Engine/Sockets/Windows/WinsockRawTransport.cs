using System.Net;
using System.Net.Sockets;
using System.Runtime.Versioning;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets.Windows;

/// <summary>
/// The elevated Windows transport: a raw Winsock ICMP or ICMPv6 socket (Administrator only), which writes the
/// whole echo request and sees every ICMP message, so it does all a Linux raw socket does: Paris traceroute,
/// -Multipath, exact error bytes. Windows' rules, from Microsoft's "TCP/IP Raw Sockets" and dotnet/runtime's
/// Ping.RawSocket.cs: the socket is bound before it receives (a raw socket that is not bound fails its receives
/// with WSAEINVAL); IPv4 datagrams arrive with their IP header, ICMPv6 messages without one (no IP_HDRINCL for
/// IPv6: the stack writes the header and the ICMPv6 checksum); the TTL / hop limit is a socket option, set
/// before each send that needs another (sends are serialised for it).
/// </summary>
/// <remarks>
/// <para>One thread waits on the socket, stamps and parses each datagram and queues it for the prober's loop
/// (<see cref="AnswerQueue"/>): Windows cannot wait on a socket and a wake event in one call the way Linux polls a
/// socket and an eventfd. RTT: Stopwatch stamps before the send call and after the
/// receive call returns (no kernel timestamps), so an answer read late counts as late: the thread reads everything
/// queued per wait, and a burst's sender never runs more than <see cref="SendsAheadOfReceiver"/> probes ahead of it
/// (<see cref="WaitForReceiver"/>), which also keeps the answers inside the receive buffer.</para>
/// <para>Answers are read with WSARecvMsg (<see cref="WsaRecvMsg"/>), for both families: an ICMPv6 answer comes
/// without its IP header, and Windows gives its hop limit only as WSARecvMsg's IPV6_HOPLIMIT control message (.NET's
/// ReceiveMessageFrom reads packet information alone). IPv4 answers carry their TTL in their header. Packet
/// information (IP_PKTINFO / IPV6_PKTINFO) is not asked for: nothing in a message needs the local address or
/// interface an answer came in by.</para>
/// <para>Wine 8 opens no raw ICMPv6 socket (WSAEPROTONOSUPPORT); its raw IPv4 socket is a Linux raw socket, so
/// under Wine the bind is not needed, but it is kept for Windows. The IPv6 hop limit is therefore tested through
/// <see cref="WinsockMessage"/> with recorded control blocks only.</para>
/// </remarks>
[SupportedOSPlatform("windows")]
public sealed class WinsockRawTransport : IIcmpTransport
{
    /// <summary>IP_UNICAST_IF / IPV6_UNICAST_IF (ws2ipdef.h): the interface unicast sends leave by.</summary>
    private const int UnicastInterface = 31;
    /// <summary>IPV6_DONTFRAG (ws2ipdef.h).</summary>
    private const int Ipv6DontFragment = 14;
    private const int DefaultTtl = 128;
    private const int ReceiveCapacity = 64;
    /// <summary>The receive thread wakes the prober once per this many answers, not per answer (see ReceiveLoop).</summary>
    private const int SignalEvery = 32;
    private const int ReceiveBufferBytes = 4 << 20;
    /// <summary>
    /// Sends allowed while the receive thread is behind, before the sender waits for it to empty the socket. Sized for
    /// the smallest buffer the socket may really have: under Wine, SO_RCVBUF is a Linux socket's, capped by
    /// net.core.rmem_max (212,992 bytes on a stock Linux, about 400 KB once the kernel doubles it), and Wine reports
    /// the size asked for, not the one granted. On loopback each probe queues two datagrams (the request is read back
    /// too), each about 1 KB of buffer: 128 probes stay well inside it.
    /// </summary>
    private const int SendsAheadOfReceiver = 128;
    /// <summary>How many 1 ms waits the sender gives the receive thread before sending anyway (a flood that never drains).</summary>
    private const int CatchUpWaits = 1000;
    /// <summary>How long the receive thread may take to notice Dispose.</summary>
    private const int ShutdownSliceMicroseconds = 100_000;

    private readonly Socket _socket;
    private readonly TimeProvider _clock;
    private readonly AnswerQueue _answers = new();
    private readonly object _sendLock = new();
    private readonly Dictionary<IpKey, Socket> _sourceSenders = new();
    private readonly bool _dontFragment;
    private readonly int _interfaceIndex = -1;
    private readonly Thread _receiver;
    private readonly byte[] _receiveBuffer = GC.AllocateArray<byte>(65536, pinned: true);
    private readonly WsaRecvMsg _receiveMessage;
    private volatile Exception? _failure;
    private int _currentTtl = -1;
    private int _disposed;
    /// <summary>Sends since the sender last found the receive thread caught up; under the send lock.</summary>
    private int _sendsAhead;
    /// <summary>How many times the receive thread has found the socket empty.</summary>
    private int _drains;
    /// <summary>Released at each drain while the sender waits for one (<see cref="_senderWaiting"/>).</summary>
    private readonly SemaphoreSlim _drained = new(0);
    private volatile bool _senderWaiting;

    /// <exception cref="SocketPermissionException">Not elevated: Windows opens raw sockets for Administrators only.</exception>
    public WinsockRawTransport(IcmpFamily family, bool dontFragment = false, TimeProvider? clock = null, string? interfaceName = null,
        bool broadcast = false)
        : this(family, dontFragment, clock, interfaceName, broadcast, ReceiveBufferBytes)
    {
    }

    /// <param name="receiveBufferBytes">SO_RCVBUF: tests ask for Linux's default to see what Wine gets on a stock machine.</param>
    internal WinsockRawTransport(IcmpFamily family, bool dontFragment, TimeProvider? clock, string? interfaceName, bool broadcast,
        int receiveBufferBytes)
    {
        Family = family;
        _clock = clock ?? TimeProvider.System;
        _dontFragment = dontFragment;
        var bindTo = family == IcmpFamily.IPv4 ? IPAddress.Any : IPAddress.IPv6Any;
        if (!string.IsNullOrEmpty(interfaceName))
        {
            (_interfaceIndex, bindTo) = WindowsInterface.Resolve(interfaceName, family);
        }
        _socket = Open(family);
        try
        {
            Configure(_socket, bindTo);
            if (broadcast && family == IcmpFamily.IPv4)
            {
                _socket.EnableBroadcast = true;
            }
            _socket.ReceiveBufferSize = receiveBufferBytes;
            if (family == IcmpFamily.IPv6)
            {
                // IPV6_HOPLIMIT (21 in ws2ipdef.h, which SocketOptionName.HopLimit is): each answer's hop limit in
                // WSARecvMsg's control block. ICMPv6 arrives without its IP header, so this is the only way to it.
                _socket.SetSocketOption(SocketOptionLevel.IPv6, SocketOptionName.HopLimit, true);
            }
            _receiveMessage = new WsaRecvMsg(_socket);
        }
        catch (SocketException e)
        {
            _socket.Dispose();
            throw new SocketUnavailableException($"Could not set up the raw {family} ICMP socket: {e.Message}", e);
        }
        _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = $"IcmpTools Winsock receive ({family})" };
        _receiver.Start();
    }

    public IcmpFamily Family { get; }
    public SocketKind Kind => SocketKind.Raw;
    public int? KernelIdentifier => null;

    /// <summary>
    /// Everything but the traffic class: Windows ignores IP_TOS on its sockets (Microsoft: set TOS through the QoS
    /// API instead), and IPV6_TCLASS is not there for raw sockets.
    /// </summary>
    public TransportCapabilities Capabilities { get; } = TransportCapabilities.Full with { CanSetTrafficClass = false };

    public bool MoreQueued => !_answers.IsEmpty;

    private static Socket Open(IcmpFamily family) => IcmpSockets.Open(family, SocketType.Raw, static () =>
        "Raw ICMP sockets on Windows need an elevated session (Run as Administrator); without one IcmpTools " +
        "uses iphlpapi, which needs no privilege.");

    /// <summary>Binds (Windows: before any receive) and sets what every socket of the transport shares.</summary>
    private void Configure(Socket socket, IPAddress bindTo)
    {
        if (_interfaceIndex >= 0)
        {
            // IP_UNICAST_IF takes the index in network byte order, IPV6_UNICAST_IF in host order (ws2ipdef.h).
            if (Family == IcmpFamily.IPv4)
            {
                socket.SetSocketOption(SocketOptionLevel.IP, (SocketOptionName)UnicastInterface, IPAddress.HostToNetworkOrder(_interfaceIndex));
            }
            else
            {
                socket.SetSocketOption(SocketOptionLevel.IPv6, (SocketOptionName)UnicastInterface, _interfaceIndex);
            }
        }
        socket.Bind(new IPEndPoint(bindTo, 0));
        if (_dontFragment)
        {
            if (Family == IcmpFamily.IPv4)
            {
                socket.DontFragment = true;
            }
            else
            {
                socket.SetSocketOption(SocketOptionLevel.IPv6, (SocketOptionName)Ipv6DontFragment, 1);
            }
        }
    }

    public void Send(SendBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (_failure is { } failure)
        {
            throw new SocketUnavailableException($"The raw {Family} ICMP socket failed: {failure.Message}", failure);
        }
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        lock (_sendLock)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                ref var packet = ref batch.Packets[i];
                try
                {
                    var socket = packet.HasSource ? SenderFor(packet.Source) : _socket;
                    var ttl = packet.Ttl > 0 ? Math.Min(packet.Ttl, 255) : DefaultTtl;
                    if (socket != _socket || ttl != _currentTtl)
                    {
                        // Socket.Ttl sets IP_TTL or IPV6_UNICAST_HOPS, whichever the family needs.
                        socket.Ttl = (short)ttl;
                        if (socket == _socket)
                        {
                            _currentTtl = ttl;
                        }
                    }
                    var destination = new IPEndPoint(packet.Destination.ToAddress(Family), 0);
                    if (++_sendsAhead > SendsAheadOfReceiver)
                    {
                        WaitForReceiver();
                        _sendsAhead = 1;
                    }
                    batch.Stamp(i, 1);
                    socket.SendTo(batch.PacketSpan(i), SocketFlags.None, destination);
                }
                catch (SocketException e)
                {
                    if (packet.SentTimestamp == 0)
                    {
                        batch.Stamp(i, 1);
                    }
                    packet.Error = (int)e.SocketErrorCode;
                }
            }
        }
    }

    /// <summary>
    /// Holds the next send until the receive thread has emptied the socket once, so a burst never queues more answers
    /// than the receive buffer holds: the kernel drops what does not fit, and a sweep's answers come back as fast as it
    /// sends. Windows reads a socket in a system call; under Wine each read is two round trips to the wineserver, and a
    /// loopback /20 sent at full speed filled a stock Linux buffer (212,992 bytes) with about the first 300 of 4,094
    /// answers and dropped the rest. Nothing queued (answers still in flight, or none coming) lets the send go at once. Bounded,
    /// so a flood from elsewhere that never lets the socket drain slows sends, never stops them.
    /// </summary>
    private void WaitForReceiver()
    {
        var seen = Volatile.Read(ref _drains);
        _senderWaiting = true;
        try
        {
            // The 1 ms slices cover a drain that ends between the check and the flag being seen.
            for (var waits = 0; waits < CatchUpWaits && Volatile.Read(ref _drains) == seen && _socket.Available > 0
                && Volatile.Read(ref _disposed) == 0 && _failure is null; waits++)
            {
                _drained.Wait(1);
            }
        }
        finally
        {
            _senderWaiting = false;
        }
    }

    /// <summary>
    /// A send-only socket bound to a per-probe source (-Source): Windows sets a raw socket's source by its bind.
    /// It receives nothing useful (its buffer is kept at zero), the main socket sees the answers.
    /// </summary>
    private Socket SenderFor(in IpKey source)
    {
        if (_sourceSenders.TryGetValue(source, out var sender))
        {
            return sender;
        }
        sender = Open(Family);
        try
        {
            sender.ReceiveBufferSize = 0;
            Configure(sender, source.ToAddress(Family));
        }
        catch
        {
            sender.Dispose();
            throw;
        }
        _sourceSenders[source] = sender;
        return sender;
    }

    private void ReceiveLoop()
    {
        var buffer = _receiveBuffer;
        try
        {
            while (Volatile.Read(ref _disposed) == 0)
            {
                // Wait for a datagram in short slices, never in a receive that Dispose would have to close the socket
                // under: under Wine a blocked receive whose socket was closed could still write into its buffer after
                // the call returned (a runtime crash in the test run). Dispose raises the flag, this loop leaves within
                // a slice, and only then is the socket closed. A datagram that arrives ends the wait at once.
                if (!_socket.Poll(ShutdownSliceMicroseconds, SelectMode.SelectRead))
                {
                    continue;
                }
                // Read all that is queued before waiting again, and wake the prober once per SignalEvery answers: under
                // Wine a Poll and a wake are each a round trip to the wineserver, which every socket call of the
                // process queues behind, so one of each per datagram made the loop fall seconds behind a sweep of a
                // loopback /20. FIONREAD (Available) is answered in the process, from the Linux socket.
                var unsignalled = 0;
                do
                {
                    // Both families read the same way, so the IPv4 runs under Wine exercise the call IPv6 relies on.
                    var length = _receiveMessage.Receive(buffer, out var name, out var control);
                    var received = _clock.GetTimestamp();
                    if (WinsockMessage.TryRead(Family, buffer.AsSpan(0, length), length, name, control, IntPtr.Size, received,
                        out var message, out var echoed))
                    {
                        _answers.Add(in message, echoed, signal: false);
                        if (++unsignalled == SignalEvery)
                        {
                            unsignalled = 0;
                            _answers.Signal();
                        }
                    }
                }
                while (_socket.Available > 0 && Volatile.Read(ref _disposed) == 0);
                if (unsignalled > 0)
                {
                    _answers.Signal();
                }
                Interlocked.Increment(ref _drains);
                if (_senderWaiting)
                {
                    _drained.Release();
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The prober's next Receive fails with it, and fails the probes in flight.
            _failure = e;
            _answers.Signal();
        }
    }

    public int Receive(int timeoutMilliseconds, IMessageSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        var count = _answers.Drain(timeoutMilliseconds, sink, ReceiveCapacity);
        if (count == 0 && _failure is { } failure)
        {
            throw new SocketUnavailableException($"The raw {Family} ICMP socket failed: {failure.Message}", failure);
        }
        return count;
    }

    public void Wake() => _answers.Signal();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        if (Thread.CurrentThread != _receiver)
        {
            _receiver.Join();
        }
        _socket.Dispose();
        lock (_sendLock)
        {
            foreach (var sender in _sourceSenders.Values)
            {
                sender.Dispose();
            }
            _sourceSenders.Clear();
        }
        _answers.Dispose();
        _drained.Dispose();
    }
}
