using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;
using static IcmpTools.Engine.Probing.ProbeTable;

namespace IcmpTools.Engine.Probing;

/// <summary>
/// Sends probes on one transport and matches what comes back. One receive thread drains the socket,
/// matches each answer to its probe through the cookie in the payload (session key + serial, so two
/// operations or two processes never take each other's replies) and fires timeouts from a deadline
/// queue; it sleeps in the transport until the next packet or the next deadline. Any number of threads
/// may send at once; when the probe table is full, <see cref="SendAsync"/> waits for room.
/// </summary>
/// <remarks>
/// <para>Each probe in flight holds a slot of the <see cref="ProbeTable"/>, whose state machine is drawn there:
/// the table reserves and frees slots, the prober makes every other transition (Reserved → Pending as the
/// packet leaves, Pending → Answered or Closed as it finishes). Only Pending probes time out or take answers;
/// an Answered slot keeps its serial until reused, so a further echo reply to it is a duplicate. Probes sent
/// without room for their cookie are also found by their header, through the <see cref="HeaderIndex"/>.</para>
/// <para>Time: every deadline and RTT comes from the injected <see cref="TimeProvider"/>. An answer counts
/// when it arrived by the probe's deadline: the receive loop reads every queued message before it expires
/// probes, so a loaded machine that reads late does not turn an answer into a timeout.</para>
/// </remarks>
public sealed class Prober : IMessageSink, IDisposable
{
    /// <summary>Largest batch one send system call takes.</summary>
    public const int MaxBatch = SendBatch.MaxCapacity;

    /// <summary>Probes in flight at most: 262,144, four /16s at -Count 1; about 100 bytes each once grown.</summary>
    public const int MaxSlots = ProbeTable.MaxSlots;

    private const int Emsgsize = 90;

    /// <summary>The deadline queue is swept of finished probes' entries once they are at least half of it, and it holds at least this many.</summary>
    internal const int DeadlineCompactionFloor = 1024;

    private readonly IIcmpTransport _transport;
    private readonly TimeProvider _clock;
    private readonly double _ticksPerMillisecond;
    private readonly long _toleranceTicks;
    private readonly ProbeTable _table;
    private readonly uint _session;

    /// <summary>Guards the deadline queue; senders and the receive loop both take it, briefly.</summary>
    private readonly object _deadlineLock = new();
    private readonly DeadlineQueue<(int Index, uint Serial)> _deadlines = new();
    private readonly List<(int Index, uint Serial)> _expired = new();
    /// <summary>Entries held by the last compaction's survivors, doubled: the queue is swept again past it.</summary>
    private int _compactAbove = DeadlineCompactionFloor;
    /// <summary>Sweeps of the deadline queue so far (for tests and the profile).</summary>
    private int _compactions;
    private readonly List<((int Index, uint Serial) Entry, long Deadline)> _liveDeadlines = new();
    /// <summary>The earliest deadline queued (long.MaxValue when none), readable without the lock.</summary>
    private long _headDeadline = long.MaxValue;
    private long _wakeAt = long.MaxValue;

    /// <summary>Probes matched without a cookie, by (destination, identifier, sequence).</summary>
    private readonly HeaderIndex _byHeader = new();

    /// <summary>
    /// Spare send batches. Not a ConcurrentBag: its per-thread lists live in thread-local storage, so a
    /// long-lived thread that once sent (a PowerShell pipeline thread) kept every disposed prober alive
    /// through the batch's callback, 13 MB per command.
    /// </summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<SendBatch> _batches = new();
    private readonly Action<SendBatch, int, int> _beforeSend;
    /// <summary>Guards changes to the unclaimed subscribers; the receive thread reads the array without it.</summary>
    private readonly object _unclaimedLock = new();
    private IMessageSink[] _unclaimed = [];
    private readonly Thread _receiveThread;
    private volatile bool _stopping;
    private int _disposed;

    public Prober(IIcmpTransport transport, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(transport);
        _transport = transport;
        _table = new ProbeTable(transport.Family);
        _clock = clock ?? TimeProvider.System;
        _ticksPerMillisecond = _clock.TimestampFrequency / 1000.0;
        _toleranceTicks = _clock.TimestampFrequency / 1000;
        _session = BitConverter.ToUInt32(RandomNumberGenerator.GetBytes(4));
        _beforeSend = MarkSent;
        _receiveThread = new Thread(ReceiveLoop)
        {
            IsBackground = true,
            Name = $"IcmpTools receive ({transport.Family} {transport.Kind})",
        };
        _receiveThread.Start();
    }

    public IcmpFamily Family => _transport.Family;

    /// <summary>The path MTU this machine holds for the destination (see <see cref="IPathMtuSource"/>); 0 when the transport cannot say.</summary>
    public int KnownPathMtu(in IpKey destination) => _transport is IPathMtuSource source ? source.PathMtu(destination) : 0;

    public SocketKind Kind => _transport.Kind;

    /// <summary>What the transport can do: planners check it before relying on a feature (Paris, raw error bytes).</summary>
    public TransportCapabilities Capabilities => _transport.Capabilities;

    public TimeProvider Clock => _clock;

    /// <summary>Which way the transport's packets left (Ethernet frames or the raw socket), for -Verbose; null when it has one way only.</summary>
    public string? SendPathSummary => (_transport as ISendPathReport)?.SendPathSummary;

    /// <summary>The broadcast addresses of the namespace the socket opened in: what an EACCES to a destination means.</summary>
    public LocalBroadcasts Broadcasts { get; init; } = LocalBroadcasts.None;

    /// <summary>Set once the receive loop has failed: every pending probe was failed with it, and no send is taken.</summary>
    public Exception? Failure => _table.Failure;

    /// <summary>Probes in flight now (reserved or pending).</summary>
    public int InFlight => _table.InFlight;

    /// <summary>Entries in the deadline queue, live or left behind by finished probes and moved deadlines.</summary>
    internal int DeadlinesQueued
    {
        get
        {
            lock (_deadlineLock)
            {
                return _deadlines.Count;
            }
        }
    }

    /// <summary>Times the deadline queue was swept of finished probes' entries.</summary>
    internal int DeadlineCompactions
    {
        get
        {
            lock (_deadlineLock)
            {
                return _compactions;
            }
        }
    }

    /// <summary>Slots the table has grown to.</summary>
    public int Capacity => _table.Capacity;

    /// <summary>
    /// Sends the probes (up to <see cref="MaxBatch"/> per system call) and reports each outcome to
    /// <paramref name="observer"/>; waits for room while the table is full. Returns once they are on the
    /// wire. Throws when the socket is unusable; probes not yet sent then report nothing.
    /// </summary>
    public async ValueTask SendAsync(ReadOnlyMemory<ProbeSpec> probes, IProbeObserver observer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(observer);
        var indices = new int[Math.Min(MaxBatch, probes.Length)];
        while (!probes.IsEmpty)
        {
            var take = Math.Min(probes.Length, MaxBatch);
            while (!TryReserve(indices.AsSpan(0, take), out var room))
            {
                await room.WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            SendReserved(probes.Span[..take], indices.AsSpan(0, take), observer);
            probes = probes[take..];
        }
    }

    /// <summary>
    /// Sends one batch of up to <see cref="MaxBatch"/> probes now when the table has room for all of them; returns
    /// false, having sent none, when it has not (<see cref="SendAsync"/> then waits for room). Throws when the socket
    /// is unusable.
    /// </summary>
    /// <remarks>
    /// The scheduler's path for every batch of a sweep: synchronous, so none of it is an async state machine, whose
    /// MoveNext the JIT compiles at tier 0 whatever the method's attribute says; a /16 is 1,024 batches where the
    /// /24 before it was 4, so the async path was recompiled twice in the middle of a session's first /16.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TrySendBatch(ReadOnlySpan<ProbeSpec> probes, IProbeObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(probes.Length, MaxBatch);
        Span<int> indices = stackalloc int[MaxBatch];
        indices = indices[..probes.Length];
        if (!TryReserve(indices, out _))
        {
            return false;
        }
        SendReserved(probes, indices, observer);
        return true;
    }

    /// <summary>Sends without waiting: throws <see cref="ProbeTableFullException"/> when the table has no room for the batch.</summary>
    public void Send(ReadOnlySpan<ProbeSpec> probes, IProbeObserver observer)
    {
        ArgumentNullException.ThrowIfNull(observer);
        while (!probes.IsEmpty)
        {
            var take = Math.Min(probes.Length, MaxBatch);
            if (!TrySendBatch(probes[..take], observer))
            {
                throw new ProbeTableFullException($"More than {MaxSlots} probes are in flight on one socket.");
            }
            probes = probes[take..];
        }
    }

    /// <summary>Messages no probe claimed are handed to <paramref name="sink"/> on the receive thread until the subscription is disposed.</summary>
    public IDisposable SubscribeUnclaimed(IMessageSink sink)
    {
        ArgumentNullException.ThrowIfNull(sink);
        lock (_unclaimedLock)
        {
            _unclaimed = [.. _unclaimed, sink];
        }
        return new Subscription(this, sink);
    }

    private sealed class Subscription(Prober prober, IMessageSink sink) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
            {
                lock (prober._unclaimedLock)
                {
                    prober._unclaimed = prober._unclaimed.Where(s => !ReferenceEquals(s, sink)).ToArray();
                }
            }
        }
    }

    private ref ProbeSlot SlotAt(int index) => ref _table.SlotAt(index);

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    /// <summary>Claims slots for every probe of a batch, or none: a batch is never half sent for want of room.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool TryReserve(Span<int> indices, out Task room)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        return _table.TryReserve(indices, out room);
    }

    /// <summary>Takes a finished probe out of the header index, then gives its slot back to the table (which wakes a sender waiting for room).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Release(int index, ref ProbeSlot slot)
    {
        if (slot.Indexed)
        {
            _byHeader.Remove(index, slot.Destination, slot.Identifier, slot.Sequence);
        }
        _table.Release(index);
    }

    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void SendReserved(ReadOnlySpan<ProbeSpec> probes, ReadOnlySpan<int> indices, IProbeObserver observer)
    {
        var batch = RentBatch();
        // The serials as reserved: once a probe is on the wire it can finish and its slot be reused at any
        // moment, so nothing after the send may read a serial back from the slot.
        Span<uint> serials = stackalloc uint[MaxBatch];
        try
        {
            for (var i = 0; i < probes.Length; i++)
            {
                ref readonly var probe = ref probes[i];
                var index = indices[i];
                ref var slot = ref SlotAt(index);
                var serial = SerialOf(Volatile.Read(ref slot.Word));
                serials[i] = serial;
                slot.Destination = probe.Destination;
                slot.Identifier = _transport.KernelIdentifier is { } kernelId ? (ushort)kernelId : probe.Identifier;
                slot.Sequence = probe.Sequence;
                slot.Mode = probe.Mode;
                slot.AnyResponder = probe.AnyResponder;
                slot.Answers = 0;
                slot.Timeout = Math.Max(1, probe.TimeoutTicks);
                slot.Deadline = long.MaxValue;
                slot.Token = probe.Token;
                slot.Observer = observer;
                slot.ExpectedPayload = probe.ExplicitPayload;
                slot.Indexed = probe.ExplicitPayload is not null || probe.MatchWithoutCookie;
                if (slot.Indexed)
                {
                    _byHeader.Add(index, slot.Destination, slot.Identifier, slot.Sequence, slot.ExpectedPayload);
                }

                var payloadLength = probe.ExplicitPayload?.Length ?? probe.PayloadSize;
                var packet = batch.Add(EchoRequestWriter.HeaderSize + payloadLength, probe.Destination, probe.Source,
                    probe.HasSource, probe.Ttl, probe.TrafficClass);
                batch.Packets[packet].Tag = index;
                batch.Packets[packet].Key = serial;
                batch.Packets[packet].TimeoutTicks = slot.Timeout;
                EchoRequestWriter.Write(batch.PacketSpan(packet), Family, slot.Identifier, probe.Sequence,
                    new ProbeCookie(_session, serial), probe.PayloadSize, probe.ExplicitPayload,
                    probe.ExplicitPayload is not null, probe.HoldSum ? probe.Sum : -1);
            }
        }
        catch
        {
            // A probe that cannot even be written (a bad option) is not sent: give its slot back.
            CloseUnsent(batch, indices);
            ReturnBatch(batch);
            throw;
        }

        try
        {
            _transport.Send(batch);
        }
        catch
        {
            CloseUnsent(batch, indices);
            ReturnBatch(batch);
            throw;
        }

        var earliest = long.MaxValue;
        lock (_deadlineLock)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                ref var packet = ref batch.Packets[i];
                var deadline = DeadlineOf(packet.SentTimestamp, probes[i].TimeoutTicks);
                _deadlines.Enqueue((packet.Tag, serials[i]), deadline);
                earliest = Math.Min(earliest, deadline);
            }
            CompactDeadlines();
            _deadlines.TryPeek(out var head);
            Interlocked.Exchange(ref _headDeadline, head);
        }
        // The receive loop sleeps until its planned deadline; wake it when ours is sooner.
        if (earliest < Volatile.Read(ref _wakeAt))
        {
            _transport.Wake();
        }

        for (var i = 0; i < batch.Count; i++)
        {
            ref var packet = ref batch.Packets[i];
            if (packet.Error != 0)
            {
                FailSend(packet.Tag, serials[i], packet.Error);
            }
        }
        ReturnBatch(batch);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private SendBatch RentBatch()
    {
        if (!_batches.TryDequeue(out var batch))
        {
            batch = new SendBatch(MaxBatch, _clock) { BeforeSend = _beforeSend };
        }
        return batch;
    }

    private void ReturnBatch(SendBatch batch)
    {
        batch.Clear();
        _batches.Enqueue(batch);
    }

    /// <summary>The slots of a batch that never left (the send threw): closed without a report, and freed.</summary>
    private void CloseUnsent(SendBatch batch, ReadOnlySpan<int> indices)
    {
        foreach (var index in indices)
        {
            ref var slot = ref SlotAt(index);
            var word = Volatile.Read(ref slot.Word);
            var serial = SerialOf(word);
            if (Interlocked.CompareExchange(ref slot.Word, Word(serial, Closed), Word(serial, Reserved)) == Word(serial, Reserved)
                || Interlocked.CompareExchange(ref slot.Word, Word(serial, Closed), Word(serial, Pending)) == Word(serial, Pending))
            {
                Release(index, ref slot);
            }
        }
        _ = batch;
    }

    /// <summary>Runs just before packets go to the kernel: stamped so late, a reply can never find its probe still Reserved.</summary>
    /// <remarks>A packet the transport re-stamps (a partial sendmmsg retried) is already Pending: only its times move.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void MarkSent(SendBatch batch, int start, int count)
    {
        for (var i = start; i < start + count; i++)
        {
            ref var packet = ref batch.Packets[i];
            ref var slot = ref SlotAt(packet.Tag);
            // The serial the packet was written for, not the slot's: a re-stamped probe may have been answered
            // and its slot reused by another sender since, and that probe's times are not ours to write.
            var serial = packet.Key;
            if (Volatile.Read(ref slot.Word) != Word(serial, Reserved))
            {
                _table.RestampPending(packet.Tag, serial, packet.SentTimestamp, packet.SentRealtimeNs);
                continue;
            }
            slot.SentTimestamp = packet.SentTimestamp;
            slot.SentRealtimeNs = packet.SentRealtimeNs;
            slot.Deadline = DeadlineOf(packet.SentTimestamp, slot.Timeout);
            // Release: every field above is visible to the receive thread once it sees Pending.
            if (Interlocked.CompareExchange(ref slot.Word, Word(serial, Pending), Word(serial, Reserved)) == Word(serial, Reserved))
            {
                // Told before the packet leaves, so the observer always hears of the send before of its answer
                // (or its failed send), and can plan the next probe without racing the reply.
                var handle = new ProbeHandle(this, packet.Tag, serial);
                slot.Observer?.OnProbeSent(in handle, slot.Token);
            }
        }
    }

    private void FailSend(int index, uint serial, int errno)
    {
        ref var slot = ref SlotAt(index);
        if (Interlocked.CompareExchange(ref slot.Word, Word(serial, Closed), Word(serial, Pending)) != Word(serial, Pending))
        {
            return;
        }
        var result = BaseResult(ref slot);
        result.Status = IcmpStatus.SendFailed;
        result.SendError = errno;
        if (errno == Emsgsize && _transport is IPathMtuSource pathMtu && pathMtu.PathMtu(slot.Destination) is > 0 and var mtu)
        {
            // Under DontFragment the kernel refuses what exceeds the path MTU it learned from an earlier Fragmentation
            // Needed / Packet Too Big: the network's answer, known before sending, so the user reads it as such.
            result.Status = IcmpStatus.PacketTooBig;
            result.Mtu = mtu;
        }
        result.TimestampNs = Sockets.Clock.RealtimeNs();
        result.EventTimestamp = _clock.GetTimestamp();
        Complete(index, ref slot, in result);
    }

    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReceiveLoop()
    {
        try
        {
            var fullReads = 0;
            while (!_stopping)
            {
                _transport.Receive(NextTimeoutMilliseconds(), this);
                // Expire only once the socket is drained: an answer that arrived in time but was read late
                // (a loaded machine) still counts, since its arrival time is checked against the deadline.
                // A flood that never lets the socket drain still gets its timeouts, every few batches.
                if (!_transport.MoreQueued || ++fullReads >= 16)
                {
                    fullReads = 0;
                    ExpireDue();
                }
            }
        }
#pragma warning disable CA1031 // The loop must never take the process down: whatever broke it fails the probes instead.
        catch (Exception e)
#pragma warning restore CA1031
        {
            FailAll(e);
        }
    }

    /// <summary>The receive loop cannot go on: every pending probe gets the error, and later sends are refused with it.</summary>
    private void FailAll(Exception error)
    {
        var allocated = _table.Fail(error);
        for (var index = 0; index < allocated; index++)
        {
            ref var slot = ref SlotAt(index);
            var word = Volatile.Read(ref slot.Word);
            var serial = SerialOf(word);
            if (StateOf(word) is Pending or Reserved
                && Interlocked.CompareExchange(ref slot.Word, Word(serial, Closed), word) == word)
            {
                var result = BaseResult(ref slot);
                result.Status = IcmpStatus.SendFailed;
                result.Failure = error;
                result.TimestampNs = Sockets.Clock.RealtimeNs();
                result.EventTimestamp = _clock.GetTimestamp();
                try
                {
                    Complete(index, ref slot, in result);
                }
#pragma warning disable CA1031 // An observer that throws here too must not stop the others from hearing of the failure.
                catch (Exception)
#pragma warning restore CA1031
                {
                }
            }
        }
        _table.WakeWaiters();
    }

    /// <summary>
    /// How long the receive loop may sleep. Lock-free, so senders never wait on it: the loop publishes its
    /// wake time, then re-reads the head deadline; a sender publishes the head, then reads the wake time.
    /// With full fences on both sides one of them sees the other, so an earlier deadline is never slept past.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
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
        var remaining = deadline - _clock.GetTimestamp();
        return remaining <= 0 ? 0 : (int)Math.Min(int.MaxValue, Math.Ceiling(remaining / _ticksPerMillisecond));
    }

    /// <summary>One message from the transport, on the receive thread.</summary>
    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnMessage(in IcmpMessage message, ReadOnlySpan<byte> echoedPayload)
    {
        int index;
        if (message.HasCookie && message.Cookie.Session == _session)
        {
            index = (int)(message.Cookie.Serial & IndexMask);
            if (!_table.IsAllocated(index) || !Claim(index, message.Cookie.Serial, in message, viaCookie: true))
            {
                Unclaimed(in message, echoedPayload);
            }
            return;
        }
        // No cookie of ours: a probe with an exact payload, or an error quoting only 8 bytes (RFC 792's minimum).
        if (_byHeader.Count > 0
            && _byHeader.TryFind(in message, _transport.KernelIdentifier is { } kernelId ? (ushort)kernelId : message.Identifier, echoedPayload, out index)
            && Claim(index, SerialOf(Volatile.Read(ref SlotAt(index).Word)), in message, viaCookie: false))
        {
            return;
        }
        Unclaimed(in message, echoedPayload);
    }

    /// <summary>The kernel's transmit time of a probe: its RTT will start there rather than before the system call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnSendTimestamp(uint key, long realtimeNs)
    {
        var index = (int)(key & IndexMask);
        if (!_table.IsAllocated(index))
        {
            return;
        }
        ref var slot = ref SlotAt(index);
        if (Volatile.Read(ref slot.Word) == Word(key, Pending))
        {
            // Only the receive thread reads this field once the probe is Pending, and this is that thread.
            slot.SentRealtimeNs = realtimeNs;
        }
    }

    private void Unclaimed(in IcmpMessage message, ReadOnlySpan<byte> echoedPayload)
    {
        foreach (var sink in Volatile.Read(ref _unclaimed))
        {
            sink.OnMessage(in message, echoedPayload);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Claim(int index, uint serial, in IcmpMessage message, bool viaCookie)
    {
        ref var slot = ref SlotAt(index);
        var word = Volatile.Read(ref slot.Word);
        var state = StateOf(word);
        if (SerialOf(word) != serial || state is not (Pending or Answered))
        {
            return false;
        }
        // Read what the match needs, then check the word again: a sender reusing the slot changes the word
        // before any field, so an unchanged word means the fields belong to this serial.
        var destination = slot.Destination;
        var identifier = slot.Identifier;
        var sequence = slot.Sequence;
        var anyResponder = slot.AnyResponder;
        var mode = slot.Mode;
        var deadline = slot.Deadline;
        var sent = slot.SentTimestamp;
        var sentRealtime = slot.SentRealtimeNs;
        var observer = slot.Observer;
        var token = slot.Token;
        Interlocked.MemoryBarrier();
        if (Volatile.Read(ref slot.Word) != word || observer is null)
        {
            return false;
        }
        var isReply = message.Kind == IcmpKind.EchoReply;
        if ((destination != message.ProbedDestination && !(anyResponder && isReply)) || sequence != message.Sequence
            || identifier != message.Identifier)
        {
            return false;
        }

        var status = StatusOf(message.Kind);
        var result = new ProbeResult
        {
            Token = token,
            Status = status,
            Destination = destination,
            Responder = message.Responder,
            Identifier = identifier,
            Sequence = sequence,
            Type = message.Type,
            Code = message.Code,
            BytesReceived = message.BytesReceived,
            RttMilliseconds = Rtt(sent, sentRealtime, message.ReceivedTimestamp, message.KernelRealtimeNs, out var rttTicks),
            Ttl = message.ReceivedTtl,
            QuotedTtl = message.QuotedTtl,
            Mtu = message.Mtu,
            Pointer = message.Pointer,
            Extensions = message.Extensions,
            SendError = message.LocalError,
            TimestampNs = message.KernelRealtimeNs != 0 ? message.KernelRealtimeNs : Sockets.Clock.RealtimeNs(),
        };
        result.EventTimestamp = sent + rttTicks;

        if (state == Answered)
        {
            // Only a reply that carries this probe's own cookie proves it is a copy of the one already counted.
            if (isReply && viaCookie && mode == ProbeMode.FirstAnswer)
            {
                observer.OnDuplicate(in result);
                return true;
            }
            return false;
        }
        if (sent + rttTicks > deadline)
        {
            // Arrived after the deadline: the probe timed out, whenever the loop got to read it.
            return false;
        }
        if (mode == ProbeMode.Collect)
        {
            Interlocked.Increment(ref slot.Answers);
            observer.OnAnswer(in result);
            return true;
        }
        var finished = status == IcmpStatus.Success ? Answered : Closed;
        if (Interlocked.CompareExchange(ref slot.Word, Word(serial, finished), word) == word)
        {
            Complete(index, ref slot, in result);
            return true;
        }
        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static IcmpStatus StatusOf(IcmpKind kind) => kind switch
    {
        IcmpKind.EchoReply => IcmpStatus.Success,
        IcmpKind.DestinationUnreachable => IcmpStatus.DestinationUnreachable,
        IcmpKind.TimeExceeded => IcmpStatus.TimeExceeded,
        IcmpKind.PacketTooBig => IcmpStatus.PacketTooBig,
        IcmpKind.LocalFailure => IcmpStatus.SendFailed,
        _ => IcmpStatus.ParameterProblem,
    };

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private double Rtt(long sentTicks, long sentRealtimeNs, long receivedTicks, long kernelRealtimeNs, out long rttTicks)
    {
        var userTicks = receivedTicks - sentTicks;
        rttTicks = userTicks;
        if (kernelRealtimeNs != 0)
        {
            // The kernel stamped the arrival on the wall clock; trust it unless the wall clock moved
            // (NTP step) while the probe was out, which shows as a value the monotonic clock rules out.
            var kernelNs = kernelRealtimeNs - sentRealtimeNs;
            var kernelTicks = (long)(kernelNs * (_clock.TimestampFrequency / 1e9));
            if (kernelNs >= 0 && kernelTicks <= userTicks + _toleranceTicks)
            {
                rttTicks = kernelTicks;
                return kernelNs / 1e6;
            }
        }
        return userTicks / _ticksPerMillisecond;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ExpireDue()
    {
        var now = _clock.GetTimestamp();
        if (now < Volatile.Read(ref _headDeadline))
        {
            // Nothing due: skip the lock the senders take.
            return;
        }
        lock (_deadlineLock)
        {
            while (_deadlines.TryDequeueDue(now, out var entry))
            {
                _expired.Add(entry);
            }
            Interlocked.Exchange(ref _headDeadline, _deadlines.TryPeek(out var head) ? head : long.MaxValue);
        }
        foreach (var (index, serial) in _expired)
        {
            ref var slot = ref SlotAt(index);
            var word = Word(serial, Pending);
            // A moved deadline left this entry behind: the slot's own deadline decides.
            if (Volatile.Read(ref slot.Word) != word || Volatile.Read(ref slot.Deadline) > now)
            {
                continue;
            }
            if (Interlocked.CompareExchange(ref slot.Word, Word(serial, Closed), word) == word)
            {
                var result = BaseResult(ref slot);
                result.Answers = slot.Answers;
                result.Status = slot.Mode == ProbeMode.Collect && slot.Answers > 0 ? IcmpStatus.Success : IcmpStatus.TimedOut;
                result.TimestampNs = Sockets.Clock.RealtimeNs();
                result.EventTimestamp = slot.Deadline;
                Complete(index, ref slot, in result);
            }
        }
        _expired.Clear();
    }

    /// <summary>
    /// Under the deadline lock: drops the entries of probes that finished or whose deadline moved, once they are at
    /// least half of the queue. An answered probe's entry otherwise stayed until its deadline, so with a long
    /// timeout the queue grew with the probes sent within it rather than with the probes in flight.
    /// </summary>
    /// <remarks>
    /// A probe in flight has at most one live entry, so entries beyond the probes in flight are left behind. Where
    /// nearly every probe is still in flight (a mostly dead block: its probes leave by their deadline, not by an
    /// answer) a sweep would find nothing to drop: the queue only doubles the point where it looks again. Sweeping
    /// at every doubling regardless cost a sparse /16 six copies in its send phase (at 1,025 to 32,800 entries, ~64k
    /// in all), under the lock both send lanes and the receive thread take, through methods a /24 never runs (tier-0 code).
    /// </remarks>
    private void CompactDeadlines()
    {
        if (_deadlines.Count <= _compactAbove)
        {
            return;
        }
        if (_deadlines.Count <= 2 * _table.InFlight)
        {
            _compactAbove = 2 * _deadlines.Count;
            return;
        }
        _compactions++;
        foreach (var (entry, deadline) in _deadlines.UnorderedItems)
        {
            ref var slot = ref SlotAt(entry.Index);
            if (Volatile.Read(ref slot.Word) == Word(entry.Serial, Pending) && Volatile.Read(ref slot.Deadline) == deadline)
            {
                _liveDeadlines.Add((entry, deadline));
            }
        }
        _deadlines.Clear();
        _deadlines.EnqueueRange(_liveDeadlines);
        _liveDeadlines.Clear();
        _compactAbove = Math.Max(DeadlineCompactionFloor, 2 * _deadlines.Count);
    }

    private static ProbeResult BaseResult(ref ProbeSlot slot) => new()
    {
        Token = slot.Token,
        Destination = slot.Destination,
        Identifier = slot.Identifier,
        Sequence = slot.Sequence,
        Type = -1,
        Code = -1,
        Ttl = -1,
        QuotedTtl = -1,
        Pointer = -1,
        RttMilliseconds = double.NaN,
    };

    /// <summary>Frees the slot, then reports: an observer that sends its next probe at once finds room.</summary>
    private void Complete(int index, ref ProbeSlot slot, in ProbeResult result)
    {
        var observer = slot.Observer;
        Release(index, ref slot);
        observer?.OnProbeCompleted(in result);
    }

    internal bool IsPending(int index, uint serial) =>
        _table.IsAllocated(index) && Volatile.Read(ref SlotAt(index).Word) == Word(serial, Pending);

    internal bool Cancel(int index, uint serial)
    {
        if (!_table.IsAllocated(index))
        {
            return false;
        }
        ref var slot = ref SlotAt(index);
        if (Interlocked.CompareExchange(ref slot.Word, Word(serial, Closed), Word(serial, Pending)) != Word(serial, Pending))
        {
            return false;
        }
        Release(index, ref slot);
        return true;
    }

    internal bool SetDeadline(int index, uint serial, long deadline)
    {
        if (!_table.IsAllocated(index))
        {
            return false;
        }
        if (!_table.TrySetDeadline(index, serial, deadline))
        {
            return false;
        }
        lock (_deadlineLock)
        {
            _deadlines.Enqueue((index, serial), deadline);
            CompactDeadlines();
            _deadlines.TryPeek(out var head);
            Interlocked.Exchange(ref _headDeadline, head);
        }
        if (deadline < Volatile.Read(ref _wakeAt))
        {
            _transport.Wake();
        }
        return IsPending(index, serial);
    }

    /// <summary>Whether <see cref="Dispose"/> has closed the prober (for tests of whoever owns it).</summary>
    internal bool IsDisposed => Volatile.Read(ref _disposed) != 0;

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

/// <summary>A probe on the wire: cancel it, or move its deadline (traceroute's adaptive wait). Stale handles do nothing.</summary>
public readonly struct ProbeHandle
{
    private readonly Prober? _prober;
    private readonly int _index;
    private readonly uint _serial;

    internal ProbeHandle(Prober prober, int index, uint serial)
    {
        _prober = prober;
        _index = index;
        _serial = serial;
    }

    /// <summary>True while the probe waits for its answer.</summary>
    public bool IsPending => _prober?.IsPending(_index, _serial) == true;

    /// <summary>Stops waiting: the probe reports nothing. False when it had already finished.</summary>
    public bool Cancel() => _prober?.Cancel(_index, _serial) == true;

    /// <summary>Moves the deadline to a timestamp of the prober's clock, earlier or later. False when the probe had already finished.</summary>
    public bool SetDeadline(long timestamp) => _prober?.SetDeadline(_index, _serial, timestamp) == true;
}

/// <summary>Every slot of the probe table holds a probe in flight.</summary>
public sealed class ProbeTableFullException : InvalidOperationException
{
    public ProbeTableFullException() { }
    public ProbeTableFullException(string message) : base(message) { }
    public ProbeTableFullException(string message, Exception innerException) : base(message, innerException) { }
}
