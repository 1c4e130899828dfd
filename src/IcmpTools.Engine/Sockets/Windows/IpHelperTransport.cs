using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Net;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets.Windows;

/// <summary>
/// The unprivileged Windows transport: iphlpapi's <c>IcmpSendEcho2Ex</c> / <c>Icmp6SendEcho2</c>, what tracert and
/// .NET's Ping use, which any user may call. Each probe is one asynchronous request with its own event; many are
/// outstanding at once (up to <see cref="MaxOutstanding"/>, then Send waits for one to complete). A completion is
/// turned into the same <see cref="IcmpMessage"/> a socket gives: the probe's identifier and sequence, the cookie
/// read back from the echoed data (a reply whose data is not what was sent is rejected), and for an error the
/// router's address with the kind, type and code its IP_STATUS stands for.
/// </summary>
/// <remarks>
/// <para>Limits (see <see cref="Capabilities"/>): Windows writes the identifier and sequence, so a flow's checksum
/// cannot be held (no Paris traceroute or -Multipath); an error arrives as an IP_STATUS with no quoted bytes (no
/// quoted TTL, no MTU, no pointer); one answer per request, so no broadcast collection. The MTU of an
/// IP_PACKET_TOO_BIG has nowhere to come from: ICMP_ECHO_REPLY and ICMPV6_ECHO_REPLY (ipexport.h) carry the
/// address, status, round-trip time, data and IP options only.</para>
/// <para>RTT: a Stopwatch stamp just before the call and one when the thread-pool wait sees the event, bounded by
/// iphlpapi's whole-millisecond RoundTripTime + 1 ms (<see cref="EchoCompletion.ArrivalTimestamp"/>): microsecond
/// resolution, with the wake-up latency of a thread-pool wait (tens of microseconds) in it.</para>
/// </remarks>
[SupportedOSPlatform("windows")]
public sealed unsafe class IpHelperTransport : IIcmpTransport
{
    /// <summary>Requests in flight at most on Windows; each holds an event, a registered wait and its buffers.</summary>
    public const int MaxOutstanding = 4096;

    /// <summary>
    /// Requests in flight at most under Wine, which carries each request on a Linux socket of its own in
    /// winedevice.exe: near 1,024 of them its descriptors run out and requests fail with ERROR_INVALID_PARAMETER.
    /// </summary>
    public const int MaxOutstandingUnderWine = 512;

    private const int DefaultTtl = 128;
    private const int ReceiveCapacity = 64;
    /// <summary>WSAENOBUFS: no request could be started in time (every slot stayed busy).</summary>
    private const int NoBuffers = 10055;

    private static readonly WaitOrTimerCallback OnEvent = static (state, _) => ((Request)state!).Owner.Complete((Request)state);

    private readonly nint _handle;
    private readonly TimeProvider _clock;
    private readonly AnswerQueue _answers = new();
    private readonly SemaphoreSlim _room = new(OutstandingLimit, OutstandingLimit);
    private readonly ConcurrentQueue<Request> _spare = new();
    private readonly bool _dontFragment;
    private readonly IPAddress? _interfaceSource;
    private int _outstanding;
    private long _rejected;
    private int _disposed;
    private int _closed;

    private sealed class Request(IpHelperTransport owner) : IDisposable
    {
        public IpHelperTransport Owner { get; } = owner;
        public EventWaitHandle Event { get; } = new(false, EventResetMode.AutoReset);
        public RegisteredWaitHandle? Wait;
        public byte* Reply;
        public int ReplySize;
        public byte* Data;
        public int DataCapacity;
        public int DataLength;
        public EchoRequestRecord Record;
        /// <summary>The API refused the request at once: its probe already failed and its room was given back.</summary>
        public bool Refused;

        public void EnsureCapacity(int payloadLength)
        {
            if (DataCapacity < payloadLength || Data is null)
            {
                NativeMemory.Free(Data);
                NativeMemory.Free(Reply);
                DataCapacity = Math.Max(payloadLength, 64);
                Data = (byte*)NativeMemory.Alloc((nuint)DataCapacity);
                ReplySize = EchoReplyLayout.ReplyBufferSize(DataCapacity);
                Reply = (byte*)NativeMemory.AllocZeroed((nuint)ReplySize);
            }
        }

        public void Dispose()
        {
            Event.Dispose();
            NativeMemory.Free(Data);
            NativeMemory.Free(Reply);
            Data = null;
            Reply = null;
        }
    }

    /// <param name="family">IPv4 (IcmpCreateFile) or IPv6 (Icmp6CreateFile).</param>
    /// <param name="dontFragment">Set DF on every request (IP_FLAG_DF).</param>
    /// <param name="clock">The prober's clock: send and completion stamps come from it.</param>
    /// <param name="interfaceName">-Interface: alias or index; requests leave from its address.</param>
    /// <param name="broadcast">Refused: iphlpapi takes one answer per request.</param>
    /// <exception cref="SocketBroadcastException"><paramref name="broadcast"/>: a broadcast needs the raw socket.</exception>
    /// <exception cref="SocketUnavailableException">The ICMP handle could not be opened (Wine 8: IPv6 is not implemented).</exception>
    public IpHelperTransport(IcmpFamily family, bool dontFragment = false, TimeProvider? clock = null, string? interfaceName = null,
        bool broadcast = false)
    {
        if (broadcast)
        {
            throw new SocketBroadcastException(
                "Broadcast pings need the raw socket an elevated session opens: iphlpapi (the unprivileged Windows path) " +
                "takes one answer per request.");
        }
        Family = family;
        _clock = clock ?? TimeProvider.System;
        _dontFragment = dontFragment;
        if (!string.IsNullOrEmpty(interfaceName))
        {
            _interfaceSource = WindowsInterface.Resolve(interfaceName, family).Address;
        }
        _handle = family == IcmpFamily.IPv4 ? IpHelperApi.IcmpCreateFile() : IpHelperApi.Icmp6CreateFile();
        if (_handle == IpHelperApi.InvalidHandle || _handle == 0)
        {
            var error = Marshal.GetLastPInvokeError();
            throw new SocketUnavailableException(
                $"Could not open an iphlpapi {family} ICMP handle ({(family == IcmpFamily.IPv4 ? "IcmpCreateFile" : "Icmp6CreateFile")} " +
                $"failed, error {error}: {Marshal.GetPInvokeErrorMessage(error)}).");
        }
    }

    public IcmpFamily Family { get; }

    /// <summary>Requests this process may have in flight: <see cref="MaxOutstanding"/>, or <see cref="MaxOutstandingUnderWine"/>.</summary>
    public static int OutstandingLimit { get; } = UnderWine ? MaxOutstandingUnderWine : MaxOutstanding;

    private static bool UnderWine { get; } = RunsUnderWine();

    /// <summary>Wine's ntdll exports wine_get_version; Windows' does not.</summary>
    private static bool RunsUnderWine() =>
        NativeLibrary.TryLoad("ntdll.dll", out var ntdll) && NativeLibrary.TryGetExport(ntdll, "wine_get_version", out _);

    /// <summary>The unprivileged kind: no elevation needed, only its own answers seen.</summary>
    public SocketKind Kind => SocketKind.Datagram;

    /// <summary>Windows chooses the identifier and does not say which: the prober's own stays its bookkeeping.</summary>
    public int? KernelIdentifier => null;

    public TransportCapabilities Capabilities { get; } = new()
    {
        ChoosesIdentifier = true,
        ChoosesSequence = true,
        CanSetTtl = true,
        // IP_OPTION_INFORMATION.Tos is an IPv4 header field; Icmp6SendEcho2 documents only the hop limit.
        CanSetTrafficClass = false,
        // Completions reach the prober through thread-pool waits (OnEvent), not a socket it drains before it expires
        // anything: under Wine on a loaded 2-core machine a trace once read the target's answers, handed over late,
        // as a silent hop after the 20 ms adaptive floor. A quarter second costs a silent hop below the target little.
        HandOffLatency = TimeSpan.FromMilliseconds(250),
    };

    public bool MoreQueued => !_answers.IsEmpty;

    /// <summary>Echo replies refused because their data was not what their request sent.</summary>
    public long RejectedReplies => Interlocked.Read(ref _rejected);

    /// <summary>Requests handed to iphlpapi and not yet completed.</summary>
    public int Outstanding => Volatile.Read(ref _outstanding);

    public void Send(SendBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        for (var i = 0; i < batch.Count; i++)
        {
            ref var packet = ref batch.Packets[i];
            var timeout = IpHelperMarshal.TimeoutMilliseconds(packet.TimeoutTicks, batch.Clock.TimestampFrequency);
            // Back-pressure: a full set of requests frees a slot within the longest timeout; waiting longer means
            // completions stopped coming, and the probe fails rather than blocking its sender for ever.
            if (!_room.Wait(timeout + IpHelperMarshal.TimeoutSlackMilliseconds))
            {
                batch.Stamp(i, 1);
                packet.Error = NoBuffers;
                continue;
            }
            packet.Error = Start(batch, i, timeout);
            for (var attempt = 0; packet.Error != 0 && RefusalPolicy.ShouldRetry(packet.Error, attempt, UnderWine); attempt++)
            {
                Thread.Sleep(RefusalPolicy.Pause(attempt));
                packet.Error = Start(batch, i, timeout);
            }
            if (packet.Error != 0)
            {
                _room.Release();
            }
        }
    }

    private int Start(SendBatch batch, int index, int timeout)
    {
        ref var packet = ref batch.Packets[index];
        var bytes = batch.PacketSpan(index);
        var payload = bytes[EchoRequestWriter.HeaderSize..];
        if (!_spare.TryDequeue(out var request))
        {
            request = new Request(this);
        }
        request.EnsureCapacity(payload.Length);
        payload.CopyTo(new Span<byte>(request.Data, request.DataCapacity));
        request.DataLength = payload.Length;
        request.Record = new EchoRequestRecord
        {
            Destination = packet.Destination,
            Identifier = BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]),
            Sequence = BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]),
        };
        var options = new IpOptionInformation
        {
            Ttl = (byte)(packet.Ttl > 0 ? Math.Min(packet.Ttl, 255) : DefaultTtl),
            Tos = (byte)packet.TrafficClass,
            Flags = _dontFragment ? IpOptionInformation.DontFragmentFlag : (byte)0,
        };
        var source = packet.HasSource ? packet.Source.ToAddress(Family) : _interfaceSource;
        request.Wait = ThreadPool.UnsafeRegisterWaitForSingleObject(request.Event, OnEvent, request, Timeout.Infinite, executeOnlyOnce: true);
        Interlocked.Increment(ref _outstanding);

        batch.Stamp(index, 1);
        request.Record.SentTimestamp = packet.SentTimestamp;
        uint result;
        var eventHandle = request.Event.SafeWaitHandle.DangerousGetHandle();
        if (Family == IcmpFamily.IPv4)
        {
            result = IpHelperApi.IcmpSendEcho2Ex(_handle, eventHandle, 0, 0, source is null ? 0u : IpHelperMarshal.IPAddr(source),
                IpHelperMarshal.IPAddr(packet.Destination.ToAddress(Family)), request.Data, (ushort)payload.Length, &options,
                request.Reply, (uint)request.ReplySize, (uint)timeout);
        }
        else
        {
            var sourceAddress = stackalloc byte[IpHelperMarshal.SockaddrIn6Size];
            var destinationAddress = stackalloc byte[IpHelperMarshal.SockaddrIn6Size];
            IpHelperMarshal.WriteSockaddrIn6(new Span<byte>(sourceAddress, IpHelperMarshal.SockaddrIn6Size), source ?? IPAddress.IPv6Any);
            IpHelperMarshal.WriteSockaddrIn6(new Span<byte>(destinationAddress, IpHelperMarshal.SockaddrIn6Size), packet.Destination.ToAddress(Family));
            result = IpHelperApi.Icmp6SendEcho2(_handle, eventHandle, 0, 0, sourceAddress, destinationAddress, request.Data,
                (ushort)payload.Length, &options, request.Reply, (uint)request.ReplySize, (uint)timeout);
        }
        if (result != 0)
        {
            // Answered before the call returned: the event is set all the same, and the wait takes it from there.
            return 0;
        }
        var error = Marshal.GetLastPInvokeError();
        if (error == IpHelperApi.ErrorIoPending)
        {
            return 0;
        }
        // Refused at once (Wine 8's Icmp6SendEcho2: ERROR_CALL_NOT_IMPLEMENTED; Wine under load: ERROR_INVALID_PARAMETER).
        // The probe fails now, but the request keeps its buffers, event and wait: under Wine a refused request was
        // seen to be written to afterwards (reusing its buffers corrupted the heap). If its event is ever set, the
        // completion recycles it as any other; if not, it stays out of the pool for the life of the process.
        request.Refused = true;
        return error == 0 ? NoBuffers : error;
    }

    /// <summary>A request's event was set: read its reply buffer into a message (thread-pool thread).</summary>
    private void Complete(Request request)
    {
        var completed = _clock.GetTimestamp();
        try
        {
            var buffer = new ReadOnlySpan<byte>(request.Reply, request.ReplySize);
            var sent = new ReadOnlySpan<byte>(request.Data, request.DataLength);
            if (!request.Refused && EchoReplyLayout.TryRead(Family, buffer, (ulong)request.Reply, request.DataLength, out var reply))
            {
                switch (EchoCompletion.Interpret(Family, in reply, in request.Record, sent, completed, _clock.TimestampFrequency,
                    out var message, out var echoed))
                {
                    case EchoCompletionOutcome.Message:
                        _answers.Add(in message, echoed);
                        break;
                    case EchoCompletionOutcome.Rejected:
                        Interlocked.Increment(ref _rejected);
                        break;
                }
            }
        }
        finally
        {
            request.Wait?.Unregister(null);
            request.Wait = null;
            var left = Interlocked.Decrement(ref _outstanding);
            var refused = request.Refused;
            request.Refused = false;
            Recycle(request);
            if (Volatile.Read(ref _disposed) == 0 && !refused)
            {
                _room.Release();
            }
            else if (left == 0)
            {
                CloseHandleOnce();
            }
        }
    }

    private void Recycle(Request request)
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            request.Dispose();
            return;
        }
        new Span<byte>(request.Reply, request.ReplySize).Clear();
        _spare.Enqueue(request);
    }

    public int Receive(int timeoutMilliseconds, IMessageSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        return _answers.Drain(timeoutMilliseconds, sink, ReceiveCapacity);
    }

    public void Wake() => _answers.Signal();

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        while (_spare.TryDequeue(out var request))
        {
            request.Dispose();
        }
        // The handle is closed once no request is in flight: a request's buffers are the API's until its event is
        // set, and under Wine closing the handle under a pending request left later requests of the process
        // hanging. Every request ends by its own timeout, so the last completion closes it (CloseHandleOnce).
        if (Volatile.Read(ref _outstanding) == 0)
        {
            CloseHandleOnce();
        }
    }

    private void CloseHandleOnce()
    {
        if (Interlocked.Exchange(ref _closed, 1) == 0)
        {
            IpHelperApi.IcmpCloseHandle(_handle);
            _answers.Dispose();
        }
    }
}

/// <summary>
/// When a request iphlpapi refused at once is worth starting again. Under Wine each request is a Linux socket of its
/// own in winedevice.exe, and on a loaded machine (the sockets of completed requests not yet closed) a request is
/// refused with ERROR_INVALID_PARAMETER that succeeds a moment later (seen while MaxOutstandingUnderWine was chosen).
/// A Wine test run on a loaded machine once reported one host of a loopback /24 dead within 3 s of a 10 s timeout,
/// which such a refusal explains and a lost answer does not; its status was not recorded (the test now prints it).
/// Windows documents ERROR_INVALID_PARAMETER as the caller's mistake, which a retry
/// would only repeat, so only Wine's is retried, a few times with growing pauses (at most 61 ms in all).
/// </summary>
internal static class RefusalPolicy
{
    public const int ErrorInvalidParameter = 87;
    private static readonly int[] Pauses = [1, 10, 50];

    public static bool ShouldRetry(int error, int attempt, bool underWine) =>
        underWine && error == ErrorInvalidParameter && attempt < Pauses.Length;

    public static int Pause(int attempt) => Pauses[attempt];
}
