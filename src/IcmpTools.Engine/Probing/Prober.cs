using System.Runtime.CompilerServices;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Probing;

/// <summary>
/// Sends probes on one transport and matches what comes back. One receive thread drains the socket,
/// matches each answer to its probe through the cookie in the payload (session key + serial, so two
/// operations or two processes never take each other's replies) and fires timeouts from a deadline
/// queue; it sleeps in poll() until the next packet or the next deadline, never polling on a timer.
/// Any number of threads may send at once.
/// </summary>
public sealed class Prober : IDisposable
{
    /// <summary>Largest batch one send system call takes.</summary>
    public const int MaxBatch = 64;

    /// <summary>
    /// Outstanding-probe table size. Probes live in slot (serial mod size); a slot is reused only once
    /// its probe is finished, so this bounds probes in flight (131,072: twice a /16 at -Count 1).
    /// </summary>
    private const int TableBits = 17;
    private const int TableSize = 1 << TableBits;
    private const uint TableMask = TableSize - 1;

    private const int Free = 0;
    private const int Reserved = 1;
    private const int Pending = 2;
    /// <summary>Finished by an echo reply: a further reply is a duplicate.</summary>
    private const int Answered = 3;
    /// <summary>Finished by a timeout, an ICMP error or a failed send: a late reply is ignored.</summary>
    private const int Closed = 4;

    private static readonly double TicksPerMillisecond = Stopwatch.Frequency / 1000.0;
    private static readonly long ToleranceTicks = Stopwatch.Frequency / 1000;

    private readonly IIcmpTransport _transport;
    private readonly Slot[] _slots = new Slot[TableSize];
    private readonly uint _session;
    private readonly object _lock = new();
    private readonly PriorityQueue<uint, long> _deadlines = new();
    private readonly List<uint> _expired = new();
    /// <summary>
    /// Spare send batches. Not a ConcurrentBag: its per-thread lists live in thread-local storage, so a
    /// long-lived thread that once sent (a PowerShell pipeline thread) kept every disposed prober alive
    /// through the batch's callback, 13 MB per command.
    /// </summary>
    private readonly ConcurrentQueue<SendBatch> _batches = new();
    private readonly Action<SendBatch> _beforeSend;
    private readonly Thread _receiveThread;
    private uint _nextSerial;
    private long _wakeAt = long.MaxValue;
    /// <summary>The earliest deadline queued (long.MaxValue when none), readable without the lock.</summary>
    private long _headDeadline = long.MaxValue;
    private int _cookieless;
    private volatile bool _stopping;
    private int _disposed;

    private struct Slot
    {
        public int State;
        public uint Serial;
        public IpKey Destination;
        public ushort Identifier;
        public ushort Sequence;
        public long SentTicks;
        public long SentRealtimeNs;
        public long Token;
        public IProbeObserver? Observer;
        public byte[]? ExpectedPayload;
    }

    public Prober(IIcmpTransport transport, SocketKind kind = SocketKind.Raw)
    {
        ArgumentNullException.ThrowIfNull(transport);
        _transport = transport;
        Kind = kind;
        _session = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
        _nextSerial = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
        _beforeSend = MarkSent;
        _receiveThread = new Thread(ReceiveLoop)
        {
            IsBackground = true,
            Name = $"IcmpTools receive ({transport.Family})",
        };
        _receiveThread.Start();
    }

    public IcmpFamily Family => _transport.Family;

    /// <summary>Raw, or datagram (unprivileged): results carry it so users see which mode ran.</summary>
    public SocketKind Kind { get; }

    /// <summary>
    /// Sends the probes (up to <see cref="MaxBatch"/> per system call) and reports each outcome to
    /// <paramref name="observer"/>. Returns once they are on the wire; outcomes arrive later.
    /// </summary>
    public void Send(ReadOnlySpan<ProbeSpec> probes, IProbeObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        var batch = RentBatch();
        try
        {
            while (!probes.IsEmpty)
            {
                var take = Math.Min(probes.Length, MaxBatch);
                SendOne(probes[..take], observer, batch);
                probes = probes[take..];
            }
        }
        finally
        {
            batch.Clear();
            _batches.Enqueue(batch);
        }
    }

    private SendBatch RentBatch()
    {
        if (!_batches.TryDequeue(out var batch))
        {
            batch = new SendBatch(MaxBatch) { BeforeSend = _beforeSend };
        }
        return batch;
    }

    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SendOne(ReadOnlySpan<ProbeSpec> probes, IProbeObserver observer, SendBatch batch)
    {
        batch.Clear();
        var now = Stopwatch.GetTimestamp();
        long earliest;
        lock (_lock)
        {
            foreach (ref readonly var probe in probes)
            {
                var serial = ReserveSlot();
                ref var slot = ref _slots[serial & TableMask];
                slot.Serial = serial;
                slot.Destination = probe.Destination;
                slot.Identifier = probe.Identifier;
                slot.Sequence = probe.Sequence;
                slot.Token = probe.Token;
                slot.Observer = observer;
                slot.ExpectedPayload = probe.ExplicitPayload;
                if (probe.ExplicitPayload is not null)
                {
                    Interlocked.Increment(ref _cookieless);
                }

                var payloadLength = probe.ExplicitPayload?.Length ?? probe.PayloadSize;
                var index = batch.Add(EchoRequestWriter.HeaderSize + payloadLength, probe.Destination, probe.Source,
                    probe.HasSource, probe.Ttl, probe.TrafficClass);
                batch.Packets[index].Tag = serial;
                EchoRequestWriter.Write(batch.PacketSpan(index), Family, probe.Identifier, probe.Sequence,
                    new ProbeCookie(_session, serial), probe.PayloadSize, probe.ExplicitPayload,
                    probe.ExplicitPayload is not null);
                _deadlines.Enqueue(serial, now + Math.Max(1, probe.TimeoutTicks));
            }
            _deadlines.TryPeek(out _, out earliest);
            Interlocked.Exchange(ref _headDeadline, earliest);
        }

        // The receive loop sleeps until its planned deadline; wake it when ours is sooner.
        if (earliest < Volatile.Read(ref _wakeAt))
        {
            _transport.Wake();
        }

        _transport.Send(batch);

        for (var i = 0; i < batch.Count; i++)
        {
            ref var packet = ref batch.Packets[i];
            if (packet.Error != 0)
            {
                FailSend(packet.Tag, packet.Error);
            }
        }
    }

    /// <summary>Claims the next slot whose probe is finished. Caller holds the lock.</summary>
    private uint ReserveSlot()
    {
        for (var tries = 0; tries < TableSize; tries++)
        {
            var serial = ++_nextSerial;
            ref var slot = ref _slots[serial & TableMask];
            var state = Volatile.Read(ref slot.State);
            if (state is Free or Answered or Closed && Interlocked.CompareExchange(ref slot.State, Reserved, state) == state)
            {
                return serial;
            }
        }
        throw new InvalidOperationException($"More than {TableSize} probes are in flight on one socket; lower the rate or the throttle limit.");
    }

    private void MarkSent(SendBatch batch)
    {
        for (var i = 0; i < batch.Count; i++)
        {
            ref var slot = ref _slots[batch.Packets[i].Tag & TableMask];
            slot.SentTicks = batch.SentTimestamp;
            slot.SentRealtimeNs = batch.SentRealtimeNs;
            // Release: every field above is visible to the receive thread once it sees Pending.
            Interlocked.CompareExchange(ref slot.State, Pending, Reserved);
        }
    }

    private void FailSend(uint serial, int errno)
    {
        ref var slot = ref _slots[serial & TableMask];
        if (slot.Serial != serial || Interlocked.CompareExchange(ref slot.State, Closed, Pending) != Pending)
        {
            return;
        }
        var result = BaseResult(ref slot);
        result.Status = IcmpStatus.SendFailed;
        result.SendError = errno;
        result.TimestampNs = Clock.RealtimeNs();
        Finish(ref slot, in result);
    }

    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReceiveLoop()
    {
        var batch = _transport.ReceiveBatch;
        while (!_stopping)
        {
            var count = _transport.Receive(NextTimeoutMilliseconds());
            for (var i = 0; i < count; i++)
            {
                Dispatch(batch, i);
            }
            ExpireDue();
        }
    }

    /// <summary>
    /// How long the receive loop may sleep. Lock-free, so senders never wait on it: the loop publishes its
    /// wake time, then re-reads the head deadline; a sender publishes the head, then reads the wake time.
    /// With full fences on both sides one of them sees the other, so an earlier deadline is never slept past.
    /// </summary>
    private int NextTimeoutMilliseconds()
    {
        var deadline = Volatile.Read(ref _headDeadline);
        while (true)
        {
            Interlocked.Exchange(ref _wakeAt, deadline);
            var again = Volatile.Read(ref _headDeadline);
            if (again >= deadline)
            {
                break;
            }
            deadline = again;
        }
        if (deadline == long.MaxValue)
        {
            return -1;
        }
        var remaining = deadline - Stopwatch.GetTimestamp();
        return remaining <= 0 ? 0 : (int)Math.Min(int.MaxValue, Math.Ceiling(remaining / TicksPerMillisecond));
    }

    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Dispatch(ReceiveBatch batch, int index)
    {
        ref var packet = ref batch.Packets[index];
        var data = batch.Data(index);
        IcmpParseResult parsed;
        var ok = _transport.IncludesIpHeader
            ? IcmpParser.TryParseV4(data, out parsed)
            : Family == IcmpFamily.IPv4 ? IcmpParser.TryParseV4Icmp(data, out parsed) : IcmpParser.TryParseV6(data, out parsed);
        if (!ok)
        {
            return;
        }

        IpKey probed;
        IcmpStatus status;
        switch (parsed.Kind)
        {
            case IcmpKind.EchoReply:
                probed = packet.Source;
                status = IcmpStatus.Success;
                break;
            case IcmpKind.DestinationUnreachable:
                probed = parsed.QuotedDestination;
                status = IcmpStatus.DestinationUnreachable;
                break;
            case IcmpKind.TimeExceeded:
                probed = parsed.QuotedDestination;
                status = IcmpStatus.TimeExceeded;
                break;
            case IcmpKind.PacketTooBig:
                probed = parsed.QuotedDestination;
                status = IcmpStatus.PacketTooBig;
                break;
            case IcmpKind.ParameterProblem:
                probed = parsed.QuotedDestination;
                status = IcmpStatus.ParameterProblem;
                break;
            default:
                // Our own echo requests (seen on loopback) and anything else are not answers.
                return;
        }

        uint serial;
        if (parsed.HasCookie && parsed.Cookie.Session == _session)
        {
            serial = parsed.Cookie.Serial;
        }
        else if (!parsed.HasCookie || Volatile.Read(ref _cookieless) > 0)
        {
            // No cookie: a probe with an exact payload, or an error quoting only 8 bytes (RFC 792 minimum).
            if (!TryFindWithoutCookie(probed, parsed, data, status, out serial))
            {
                return;
            }
        }
        else
        {
            return;
        }

        ref var slot = ref _slots[serial & TableMask];
        var state = Volatile.Read(ref slot.State);
        if (state is not (Pending or Answered) || slot.Serial != serial || slot.Destination != probed
            || slot.Sequence != parsed.Sequence
            || (!_transport.RewritesIdentifier && slot.Identifier != parsed.Identifier))
        {
            return;
        }

        var result = BaseResult(ref slot);
        result.Status = status;
        result.Responder = packet.Source;
        // What the answer carried: on a datagram socket the kernel's identifier, not the one asked for.
        result.Identifier = parsed.Identifier;
        result.Type = parsed.Type;
        result.Code = parsed.Code;
        result.BytesReceived = status == IcmpStatus.Success ? packet.FullLength - (data.Length - parsed.IcmpLength) : parsed.IcmpLength;
        result.Ttl = parsed.Ttl >= 0 ? parsed.Ttl : packet.HopLimit;
        result.RttMilliseconds = Rtt(ref slot, batch.ReceivedTimestamp, packet.KernelRealtimeNs);
        result.TimestampNs = packet.KernelRealtimeNs != 0 ? packet.KernelRealtimeNs : Clock.RealtimeNs();

        var finished = status == IcmpStatus.Success ? Answered : Closed;
        if (Interlocked.CompareExchange(ref slot.State, finished, Pending) == Pending)
        {
            Finish(ref slot, in result);
        }
        else if (state == Answered && status == IcmpStatus.Success)
        {
            var observer = slot.Observer;
            // Re-check: a sender may have reused the slot while we read it.
            if (observer is not null && slot.Serial == serial)
            {
                observer.OnDuplicate(in result);
            }
        }
    }

    private bool TryFindWithoutCookie(in IpKey probed, in IcmpParseResult parsed, ReadOnlySpan<byte> data, IcmpStatus status, out uint serial)
    {
        // A scan: rare by construction (exact payloads are a low-level option; Linux routers quote far
        // more than 8 bytes), so a second index kept up on every probe would cost more than it saves.
        var echoed = status == IcmpStatus.Success ? data.Slice(parsed.PayloadOffset, parsed.PayloadLength) : default;
        for (var i = 0; i < TableSize; i++)
        {
            ref var slot = ref _slots[i];
            if (Volatile.Read(ref slot.State) is not (Pending or Answered) || slot.Destination != probed
                || slot.Sequence != parsed.Sequence
                || (!_transport.RewritesIdentifier && slot.Identifier != parsed.Identifier))
            {
                continue;
            }
            if (status == IcmpStatus.Success && (slot.ExpectedPayload is null || !echoed.SequenceEqual(slot.ExpectedPayload)))
            {
                continue;
            }
            serial = slot.Serial;
            return true;
        }
        serial = 0;
        return false;
    }

    private static double Rtt(ref Slot slot, long receivedTicks, long kernelRealtimeNs)
    {
        var userTicks = receivedTicks - slot.SentTicks;
        if (kernelRealtimeNs != 0)
        {
            // The kernel stamped the arrival on the wall clock; trust it unless the wall clock moved
            // (NTP step) while the probe was out, which shows as a value the monotonic clock rules out.
            var kernelNs = kernelRealtimeNs - slot.SentRealtimeNs;
            var kernelTicks = kernelNs * (Stopwatch.Frequency / 1e9);
            if (kernelNs >= 0 && kernelTicks <= userTicks + ToleranceTicks)
            {
                return kernelNs / 1e6;
            }
        }
        return userTicks / TicksPerMillisecond;
    }

    private void ExpireDue()
    {
        var now = Stopwatch.GetTimestamp();
        if (now < Volatile.Read(ref _headDeadline))
        {
            // Nothing due: skip the lock the senders hold while they fill a batch.
            return;
        }
        lock (_lock)
        {
            while (_deadlines.TryPeek(out var serial, out var deadline) && deadline <= now)
            {
                _deadlines.Dequeue();
                _expired.Add(serial);
            }
            Interlocked.Exchange(ref _headDeadline, _deadlines.TryPeek(out _, out var head) ? head : long.MaxValue);
        }
        foreach (var serial in _expired)
        {
            ref var slot = ref _slots[serial & TableMask];
            if (slot.Serial != serial)
            {
                continue;
            }
            if (Interlocked.CompareExchange(ref slot.State, Closed, Pending) == Pending
                || Interlocked.CompareExchange(ref slot.State, Closed, Reserved) == Reserved)
            {
                var result = BaseResult(ref slot);
                result.Status = IcmpStatus.TimedOut;
                result.TimestampNs = Clock.RealtimeNs();
                Finish(ref slot, in result);
            }
        }
        _expired.Clear();
    }

    private static ProbeResult BaseResult(ref Slot slot) => new()
    {
        Token = slot.Token,
        Destination = slot.Destination,
        Identifier = slot.Identifier,
        Sequence = slot.Sequence,
        Type = -1,
        Code = -1,
        Ttl = -1,
        RttMilliseconds = double.NaN,
    };

    private void Finish(ref Slot slot, in ProbeResult result)
    {
        if (slot.ExpectedPayload is not null)
        {
            Interlocked.Decrement(ref _cookieless);
        }
        slot.Observer?.OnProbeCompleted(in result);
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }
        _stopping = true;
        _transport.Wake();
        if (Thread.CurrentThread != _receiveThread)
        {
            _receiveThread.Join();
        }
        _transport.Dispose();
    }
}
