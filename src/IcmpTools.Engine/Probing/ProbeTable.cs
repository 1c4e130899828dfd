using System.Runtime.CompilerServices;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Probing;

/// <summary>
/// The prober's probe table: one slot per probe in flight, a first-in first-out free list, and growth in
/// chunks up to <see cref="MaxSlots"/>. Each slot's state and serial live together in one 64-bit word
/// (serial in the high half) that changes only by compare-and-swap, so no thread can act on a state that
/// belongs to another serial:
/// </summary>
/// <remarks>
/// <code>
///   Free ──reserve──▶ Reserved ──stamped before the send──▶ Pending ──echo reply──▶ Answered
///    ▲                   │                                    │ ──error / timeout / failed send / cancel──▶ Closed
///    │                   └──send threw──▶ Closed              │
///    └──────────── Answered / Closed slots go back to the free list (FIFO) and are reserved again under a new serial
/// </code>
/// <para>The table reserves (Free → Reserved, under a new serial) and frees; the prober makes every other
/// transition. A serial is the slot index plus a generation that grows at each reuse, and the free list is
/// first-in first-out, so a slot is reused as late as possible and a stale serial names no live probe.</para>
/// </remarks>
internal sealed class ProbeTable
{
    internal const int IndexBits = 18;
    /// <summary>Probes in flight at most: 262,144, four /16s at -Count 1; about 100 bytes each once grown.</summary>
    internal const int MaxSlots = 1 << IndexBits;
    internal const uint IndexMask = MaxSlots - 1;
    private const int ChunkBits = 12;
    internal const int ChunkSize = 1 << ChunkBits;

    internal const int Free = 0;
    internal const int Reserved = 1;
    internal const int Pending = 2;
    internal const int Answered = 3;
    internal const int Closed = 4;

    private readonly IcmpFamily _family;
    private readonly ProbeSlot[]?[] _chunks = new ProbeSlot[]?[MaxSlots / ChunkSize];

    /// <summary>Guards the free list, the table's growth and the room waiter.</summary>
    private readonly object _lock = new();
    private readonly Queue<int> _free = new();
    private int _allocated;
    private TaskCompletionSource? _room;
    private volatile Exception? _failure;

    /// <param name="family">The socket's family, named when a reservation is refused for its failure.</param>
    public ProbeTable(IcmpFamily family)
    {
        _family = family;
    }

    /// <summary>Set once by <see cref="Fail"/>: every reservation is refused with it from then on.</summary>
    public Exception? Failure => _failure;

    /// <summary>Slots reserved and not yet freed.</summary>
    public int InFlight
    {
        get
        {
            lock (_lock)
            {
                return _allocated - _free.Count;
            }
        }
    }

    /// <summary>Slots the table has grown to.</summary>
    public int Capacity
    {
        get
        {
            lock (_lock)
            {
                return _allocated;
            }
        }
    }

    internal static long Word(uint serial, int state) => ((long)serial << 32) | (uint)state;

    internal static uint SerialOf(long word) => (uint)(word >> 32);

    internal static int StateOf(long word) => (int)(word & 0xFFFF_FFFF);

    /// <summary>A send time plus a timeout, saturated: a timeout of years must not wrap into the past and expire at once.</summary>
    internal static long DeadlineOf(long sent, long timeout)
    {
        timeout = Math.Max(1, timeout);
        return sent > long.MaxValue - 1 - timeout ? long.MaxValue - 1 : sent + timeout;
    }

    /// <summary>The slot at <paramref name="index"/>, which must be below <see cref="Capacity"/>.</summary>
    public ref ProbeSlot SlotAt(int index) => ref _chunks[index >> ChunkBits]![index & (ChunkSize - 1)];

    /// <summary>The table has grown to hold <paramref name="index"/> (any index below <see cref="MaxSlots"/>): its slot may be read.</summary>
    public bool IsAllocated(int index) => _chunks[index >> ChunkBits] is not null;

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    /// <summary>
    /// Claims slots for every probe of a batch, or none: a batch is never half sent for want of room. When there
    /// is no room, <paramref name="room"/> completes once a slot is freed (or the table fails).
    /// </summary>
    /// <exception cref="SocketUnavailableException">The table failed (<see cref="Fail"/>).</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReserve(Span<int> indices, out Task room)
    {
        room = Task.CompletedTask;
        lock (_lock)
        {
            // Checked under the lock Fail takes after setting the failure: either the prober's scan sees these slots
            // reserved, or this sees the failure. Checked before the lock, a reservation could slip in after the
            // scan and leave its probe pending with no receive thread to end it.
            if (_failure is { } failure)
            {
                throw new SocketUnavailableException($"The {_family} ICMP socket failed: {failure.Message}", failure);
            }
            while (_free.Count < indices.Length && _allocated < MaxSlots)
            {
                var chunk = _allocated >> ChunkBits;
                _chunks[chunk] = new ProbeSlot[ChunkSize];
                for (var i = 0; i < ChunkSize; i++)
                {
                    _free.Enqueue(_allocated + i);
                }
                _allocated += ChunkSize;
            }
            if (_free.Count < indices.Length)
            {
                _room ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                room = _room.Task;
                return false;
            }
            for (var i = 0; i < indices.Length; i++)
            {
                var index = _free.Dequeue();
                ref var slot = ref SlotAt(index);
                var old = Volatile.Read(ref slot.Word);
                var generation = (SerialOf(old) >> IndexBits) + 1;
                var serial = (generation << IndexBits) | (uint)index;
                // The receive thread may be reading this slot for its old serial (a late duplicate): the
                // new word goes in before any field changes, so it sees the change and drops the packet.
                Interlocked.Exchange(ref slot.Word, Word(serial, Reserved));
                indices[i] = index;
            }
        }
        return true;
    }

    /// <summary>Returns a finished slot to the free list and wakes a sender waiting for room.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Release(int index)
    {
        TaskCompletionSource? room;
        lock (_lock)
        {
            _free.Enqueue(index);
            room = _room;
            _room = null;
        }
        room?.TrySetResult();
    }

    /// <summary>
    /// Moves a Pending probe's deadline. Checked and written under the table lock: a slot that finishes meanwhile
    /// cannot go back to the free list (<see cref="Release"/> takes the lock), so the write never lands on the
    /// next probe to reserve it. False when the probe is no longer Pending under <paramref name="serial"/>.
    /// </summary>
    public bool TrySetDeadline(int index, uint serial, long deadline)
    {
        ref var slot = ref SlotAt(index);
        lock (_lock)
        {
            if (Volatile.Read(ref slot.Word) != Word(serial, Pending))
            {
                return false;
            }
            Volatile.Write(ref slot.Deadline, deadline);
        }
        return true;
    }

    /// <summary>
    /// A probe sent again by the transport (a partial sendmmsg retried) moves its times, if it is still pending
    /// under its serial. Under the table lock, so its slot cannot be freed and reserved anew while they are written.
    /// </summary>
    public void RestampPending(int index, uint serial, long sentTimestamp, long sentRealtimeNs)
    {
        ref var slot = ref SlotAt(index);
        lock (_lock)
        {
            if (Volatile.Read(ref slot.Word) == Word(serial, Pending))
            {
                slot.SentTimestamp = sentTimestamp;
                slot.SentRealtimeNs = sentRealtimeNs;
                Volatile.Write(ref slot.Deadline, DeadlineOf(sentTimestamp, slot.Timeout));
            }
        }
    }

    /// <summary>
    /// Refuses every reservation from now on with <paramref name="error"/>, and returns the slots grown so far:
    /// every slot reserved before this returned lies below it, so a scan that far sees them all.
    /// </summary>
    public int Fail(Exception error)
    {
        _failure = error;
        lock (_lock)
        {
            return _allocated;
        }
    }

    /// <summary>Wakes the senders waiting for room, so that they see the failure rather than wait forever.</summary>
    public void WakeWaiters()
    {
        lock (_lock)
        {
            _room?.TrySetResult();
            _room = null;
        }
    }
}

/// <summary>One probe in flight. The sender writes its fields between reserving it and stamping it Pending.</summary>
internal struct ProbeSlot
{
    /// <summary>Serial in the high 32 bits, state in the low: changed only by compare-and-swap.</summary>
    public long Word;
    public IpKey Destination;
    public ushort Identifier;
    public ushort Sequence;
    public ProbeMode Mode;
    public bool AnyResponder;
    public bool Indexed;
    public int Answers;
    public long Timeout;
    public long Deadline;
    public long SentTimestamp;
    public long SentRealtimeNs;
    public long Token;
    public IProbeObserver? Observer;
    public byte[]? ExpectedPayload;
}
