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
    /// <summary>How many waits of <see cref="CatchUpSliceMilliseconds"/> the sender gives the receive thread before sending
    /// anyway (a flood that never lets the socket drain): a second in all.</summary>
    private const int CatchUpWaits = 100;
    private const int CatchUpSliceMilliseconds = 10;
    /// <summary>How long the receive thread may take to notice Dispose (it closes the socket then, not Dispose).</summary>
    private const int ShutdownSliceMicroseconds = 100_000;
    /// <summary>How often a send that found the socket's send buffer full waits for room (1 ms each) before it fails.</summary>
    private const int SendRoomWaits = 1000;

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
    /// <summary>
    /// Set at each drain while the sender waits for one (<see cref="_senderWaiting"/>). Spin count 0: the sender blocks
    /// at once. A SemaphoreSlim's wait spins first, and its spinning calls Thread.Sleep(0), which under Wine is a round
    /// trip to the wineserver: a loopback /20 made 13,707 of them in about 30 waits (WINEDEBUG=+server), a quarter of
    /// the process's wineserver requests, sent while the receive thread it waited for queued its reads behind them.
    /// </summary>
    private readonly ManualResetEventSlim _drained = new(false, spinCount: 0);
    /// <summary>1 while the sender waits for a drain; read and written with full fences (see <see cref="WaitForReceiver"/>).</summary>
    private int _senderWaiting;
    /// <summary>Waits up to the given microseconds for a datagram: Socket.Poll, or a test's stand-in.</summary>
    private readonly Func<int, bool> _waitForDatagram;
    /// <summary>Dispose and the receive thread's exit each count one; the second closes the socket (<see cref="CloseWhenBothDone"/>).</summary>
    private int _closeVotes;
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <exception cref="SocketPermissionException">Not elevated: Windows opens raw sockets for Administrators only.</exception>
    public WinsockRawTransport(IcmpFamily family, bool dontFragment = false, TimeProvider? clock = null, string? interfaceName = null,
        bool broadcast = false)
        : this(family, dontFragment, clock, interfaceName, broadcast, ReceiveBufferBytes)
    {
    }

    /// <param name="receiveBufferBytes">SO_RCVBUF: tests ask for Linux's default to see what Wine gets on a stock machine.</param>
    /// <param name="waitForDatagram">Stands in for the receive thread's Socket.Poll (tests hold the thread in its wait).</param>
    internal WinsockRawTransport(IcmpFamily family, bool dontFragment, TimeProvider? clock, string? interfaceName, bool broadcast,
        int receiveBufferBytes, Func<int, bool>? waitForDatagram = null)
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
            // Non-blocking (FIONBIO), so that the receive thread learns the socket is empty from the read that finds it
            // so (WSAEWOULDBLOCK) instead of asking FIONREAD after every datagram: under Wine each FIONREAD ends by
            // setting the thread's wait event, one more wineserver round trip per datagram on top of the read's two.
            _socket.Blocking = false;
        }
        catch (SocketException e)
        {
            _socket.Dispose();
            throw new SocketUnavailableException($"Could not set up the raw {family} ICMP socket: {e.Message}", e);
        }
        _waitForDatagram = waitForDatagram ?? (microseconds => _socket.Poll(microseconds, SelectMode.SelectRead));
        _receiver = new Thread(ReceiveLoop) { IsBackground = true, Name = $"IcmpTools Winsock receive ({family})" };
        _receiver.Start();
    }

    /// <summary>Completes once the socket is closed: after Dispose, when the receive thread has left its wait.</summary>
    internal Task Closed => _closed.Task;

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
        lock (_sendLock)
        {
            // Inside the lock: the socket is closed under it, never while a batch is being sent.
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
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
                    SendOne(socket, batch.PacketSpan(i), destination);
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
    /// Sends one datagram. The main socket is non-blocking (for its reads), so where a blocking send would wait for room
    /// in the send buffer this one gets WSAEWOULDBLOCK (Microsoft: sendto on a non-blocking socket): it waits for the
    /// socket to be writable and sends again, as the blocking send did, for a second at most.
    /// </summary>
    private static void SendOne(Socket socket, ReadOnlySpan<byte> packet, IPEndPoint destination)
    {
        for (var waits = 0; ; waits++)
        {
            try
            {
                socket.SendTo(packet, SocketFlags.None, destination);
                return;
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.WouldBlock && waits < SendRoomWaits)
            {
                socket.Poll(1000, SelectMode.SelectWrite);
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
        for (var waits = 0; waits < CatchUpWaits && _socket.Available > 0 && Volatile.Read(ref _disposed) == 0 && _failure is null;
            waits++)
        {
            _drained.Reset();
            // Flag, then look: the receive thread counts a drain, then looks at the flag (both full fences), so either
            // this sees its drain or it sees the flag and sets the event; the slice only bounds a wait that Dispose ends.
            Interlocked.Exchange(ref _senderWaiting, 1);
            if (Volatile.Read(ref _drains) != seen)
            {
                break;
            }
            _drained.Wait(CatchUpSliceMilliseconds);
            if (Volatile.Read(ref _drains) != seen)
            {
                break;
            }
        }
        Interlocked.Exchange(ref _senderWaiting, 0);
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
                if (!_waitForDatagram(ShutdownSliceMicroseconds))
                {
                    continue;
                }
                // Read all that is queued before waiting again, and wake the prober once per SignalEvery answers: under
                // Wine a Poll and a wake are each a round trip to the wineserver, which every socket call of the
                // process queues behind, so one of each per datagram made the loop fall seconds behind a sweep of a
                // loopback /20. The read that finds the socket empty ends the drain (the socket is non-blocking).
                var unsignalled = 0;
                while (Volatile.Read(ref _disposed) == 0)
                {
                    // Both families read the same way, so the IPv4 runs under Wine exercise the call IPv6 relies on.
                    if (!_receiveMessage.TryReceive(buffer, out var length, out var name, out var control))
                    {
                        break;
                    }
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
                if (unsignalled > 0)
                {
                    _answers.Signal();
                }
                Interlocked.Increment(ref _drains);
                if (Volatile.Read(ref _senderWaiting) != 0)
                {
                    _drained.Set();
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The prober's next Receive fails with it, and fails the probes in flight.
            _failure = e;
            _answers.Signal();
        }
        finally
        {
            CloseWhenBothDone();
        }
    }

    /// <summary>
    /// Closes the socket once both the receive thread has left its loop and Dispose has been called, whichever comes
    /// second. Dispose does not wait for the thread: the thread's wait lasts up to a slice (100 ms), and every
    /// Invoke-IcmpMultiPing paid it at its end, which on a lab /24 under Wine was half the sweep. The socket is never
    /// closed under a call of the thread's (under Wine a receive whose socket was closed could still write into its
    /// buffer after the call returned), and sends stop at Dispose.
    /// </summary>
    private void CloseWhenBothDone()
    {
        if (Interlocked.Increment(ref _closeVotes) != 2)
        {
            return;
        }
        lock (_sendLock)
        {
            _socket.Dispose();
            _drained.Dispose();
        }
        _closed.TrySetResult();
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
        lock (_sendLock)
        {
            foreach (var sender in _sourceSenders.Values)
            {
                sender.Dispose();
            }
            _sourceSenders.Clear();
        }
        _answers.Dispose();
        CloseWhenBothDone();
    }
}
