using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;
using Microsoft.Extensions.Time.Testing;

namespace IcmpTools.Engine.Tests.Fakes;

/// <summary>An echo request as the fake network saw it leave.</summary>
/// <param name="Sum">The ICMP message's one's-complement sum with the checksum field zero: what a flow-stable probe holds.</param>
public sealed record SentEcho(IPAddress Destination, ushort Identifier, ushort Sequence, byte[] Payload, int Ttl, ushort Checksum, ushort Sum,
    TimeSpan SentAt);

/// <summary>What the fake network delivers back for one request, and after how long.</summary>
public sealed record Delivery(TimeSpan Delay, byte[] Datagram, IPAddress Source);

/// <summary>
/// A network in a box for the prober, on virtual time: every echo request is handed to <see cref="Network"/>,
/// which decides what comes back (nothing, a reply, two replies, an error, a forgery) and after what delay
/// on <see cref="Clock"/>. Datagrams are framed as a Linux raw socket gives them (IPv4 with its header,
/// ICMPv6 without), and read through the transports' own framing code, so the real parsing path runs.
/// A delivery's arrival time is its virtual due time, whenever the receive loop gets to read it.
/// </summary>
public sealed class FakeTransport : IIcmpTransport
{
    private readonly object _gate = new();
    private readonly PriorityQueue<Delivery, (long Due, long Order)> _queue = new();
    private readonly List<SentEcho> _sent = new();
    private readonly ReceiveBatchBuffer _buffer = new();
    private long _order;
    private bool _woken;
    private bool _disposed;
    /// <summary>
    /// The receive loop is asleep in <see cref="Receive"/> with nothing due and nothing to wake it: it has
    /// handled everything the clock's last move made due. True before any receive loop runs.
    /// </summary>
    private bool _receiverIdle = true;

    private static long _wakes;

    /// <summary>How many times a receive loop of any fake woke or went to sleep: <see cref="VirtualTime"/> reads it before and after looking.</summary>
    public static long Wakes => Interlocked.Read(ref _wakes);

    /// <summary>Every fake on a clock, so <see cref="VirtualTime"/> can tell when all of them have caught up with it.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<FakeTimeProvider, List<FakeTransport>> OnClock = new();

    public FakeTransport(Func<SentEcho, IEnumerable<Delivery>>? network = null, IcmpFamily family = IcmpFamily.IPv4,
        FakeTimeProvider? clock = null)
    {
        Family = family;
        Clock = clock ?? new VirtualClock(DateTimeOffset.UnixEpoch.AddYears(56));
        Network = network ?? (echo => [Reply(echo, TimeSpan.FromMilliseconds(1))]);
        // Everything the test starts from here on (the prober's scheduler, the operations, their continuations)
        // runs in this clock's work context, so VirtualTime can tell when none of it is running.
        EngineWork.Enter(Clock);
        var fakes = OnClock.GetOrCreateValue(Clock);
        lock (fakes)
        {
            fakes.Add(this);
        }
    }

    /// <summary>Whether the receive loop of every fake on <paramref name="clock"/> sleeps with nothing left to do now.</summary>
    public static bool AllIdle(FakeTimeProvider clock)
    {
        if (!OnClock.TryGetValue(clock, out var fakes))
        {
            return true;
        }
        lock (fakes)
        {
            foreach (var fake in fakes)
            {
                lock (fake._gate)
                {
                    if (!fake._disposed && !fake._receiverIdle)
                    {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    /// <summary>The virtual clock: give it to the prober, and advance it (or use <see cref="VirtualTime"/>) to let time pass.</summary>
    public FakeTimeProvider Clock { get; }

    public Func<SentEcho, IEnumerable<Delivery>> Network { get; set; }

    /// <summary>errno to fail sends to a destination with (e.g. 101, ENETUNREACH).</summary>
    public Func<IPAddress, int> SendError { get; set; } = _ => 0;

    /// <summary>Thrown from Send when set: a socket that broke.</summary>
    public Exception? SendException { get; set; }

    /// <summary>Thrown from Receive when set: a receive loop that meets a failure.</summary>
    public Exception? ReceiveException { get; set; }

    /// <summary>How many messages one Receive hands over at most (the real transport reads 64).</summary>
    public int ReceiveCapacity { get; set; } = 16;

    public IcmpFamily Family { get; }
    public SocketKind Kind => SocketKind.Raw;
    public int? KernelIdentifier => null;
    /// <summary>What the fake claims to do: a test sets less to play a request/response transport (iphlpapi).</summary>
    public TransportCapabilities Capabilities { get; set; } = TransportCapabilities.Full;
    public bool MoreQueued { get; private set; }

    /// <summary>Sends the transport took so far; <see cref="WaitForSent"/> waits for a count.</summary>
    public int SentCount
    {
        get
        {
            lock (_gate)
            {
                return _sent.Count;
            }
        }
    }

    public IReadOnlyList<SentEcho> Sent
    {
        get
        {
            lock (_gate)
            {
                return _sent.ToArray();
            }
        }
    }

    /// <summary>Blocks (real time, generously bounded) until at least <paramref name="count"/> requests were sent.</summary>
    public void WaitForSent(int count, TimeSpan? limit = null)
    {
        var until = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(30));
        lock (_gate)
        {
            while (_sent.Count < count)
            {
                if (DateTime.UtcNow > until)
                {
                    throw new TimeoutException($"Only {_sent.Count} of {count} requests were sent.");
                }
                Monitor.Wait(_gate, 50);
            }
        }
    }

    private long Now => Clock.GetTimestamp();

    private long TicksOf(TimeSpan span) => (long)(span.TotalSeconds * Clock.TimestampFrequency);

    public void Send(SendBatch batch)
    {
        if (SendException is { } failure)
        {
            throw failure;
        }
        batch.Stamp(0, batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            ref var packet = ref batch.Packets[i];
            // The packet leaves at its own stamp: the clock may have moved on since (the test advances it on
            // another thread), and a delay measured from later would lengthen the RTT by how slow we were.
            var now = packet.SentTimestamp;
            var bytes = batch.PacketSpan(i);
            var destination = packet.Destination.ToAddress(Family);
            packet.Error = SendError(destination);
            if (packet.Error != 0)
            {
                continue;
            }
            var sum = (ushort)~InternetChecksum.Compute(WithZeroChecksum(bytes));
            var echo = new SentEcho(destination, BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]),
                BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]), bytes[8..].ToArray(), packet.Ttl,
                BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]), sum, Clock.GetElapsedTime(0, now));
            lock (_gate)
            {
                _sent.Add(echo);
                foreach (var delivery in Network(echo))
                {
                    _queue.Enqueue(delivery, (now + TicksOf(delivery.Delay), _order++));
                }
                MarkBusy();
                Monitor.PulseAll(_gate);
            }
        }
    }

    private static byte[] WithZeroChecksum(ReadOnlySpan<byte> message)
    {
        var copy = message.ToArray();
        copy[2] = 0;
        copy[3] = 0;
        return copy;
    }

    public int Receive(int timeoutMilliseconds, IMessageSink sink)
    {
        if (ReceiveException is { } failure)
        {
            throw failure;
        }
        // The prober's receive thread inherited the work context from the test; it is counted by _receiverIdle
        // instead, since it never ends while the prober lives and so would count as running forever.
        EngineWork.LeaveOnThisThread();
        var taken = new List<(Delivery Delivery, long Due)>();
        lock (_gate)
        {
            var deadline = timeoutMilliseconds < 0 ? long.MaxValue : Now + TicksOf(TimeSpan.FromMilliseconds(timeoutMilliseconds));
            while (!_disposed && !_woken)
            {
                var now = Now;
                if (_queue.TryPeek(out _, out var head) && head.Due <= now)
                {
                    break;
                }
                var until = Math.Min(deadline, _queue.TryPeek(out _, out head) ? head.Due : long.MaxValue);
                if (until <= now)
                {
                    MarkBusy();
                    return 0;
                }
                // Virtual time passes only when the test advances the clock: a timer on that clock wakes us.
                using var timer = until == long.MaxValue
                    ? null
                    : Clock.CreateTimer(_ => Pulse(), null, Clock.GetElapsedTime(now, until), Timeout.InfiniteTimeSpan);
                if (!_receiverIdle)
                {
                    _receiverIdle = true;
                    Interlocked.Increment(ref _wakes);
                }
                Monitor.Wait(_gate, 100);
            }
            MarkBusy();
            _woken = false;
            while (taken.Count < ReceiveCapacity && _queue.TryPeek(out var delivery, out var key) && key.Due <= Now)
            {
                _queue.Dequeue();
                taken.Add((delivery, key.Due));
            }
            MoreQueued = _queue.TryPeek(out _, out var next) && next.Due <= Now;
        }
        foreach (var (delivery, due) in taken)
        {
            var data = _buffer.Hold(delivery.Datagram);
            if (RawFraming.TryRead(Family, data, delivery.Datagram.Length, IpKey.FromAddress(delivery.Source),
                    Family == IcmpFamily.IPv6 ? 64 : -1, 0, due, out var message, out var payload))
            {
                sink.OnMessage(in message, payload);
            }
        }
        return taken.Count;
    }

    /// <summary>The receive loop has work (or is about to): not idle, and the wake counted. Called under <see cref="_gate"/>.</summary>
    private void MarkBusy()
    {
        _receiverIdle = false;
        Interlocked.Increment(ref _wakes);
    }

    private void Pulse()
    {
        lock (_gate)
        {
            MarkBusy();
            Monitor.PulseAll(_gate);
        }
    }

    public void Wake()
    {
        lock (_gate)
        {
            _woken = true;
            MarkBusy();
            Monitor.PulseAll(_gate);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The echo reply the target would send.</summary>
    public static Delivery Reply(SentEcho echo, TimeSpan delay, IPAddress? from = null, Action<byte[]>? tamper = null)
    {
        var v6 = echo.Destination.AddressFamily == AddressFamily.InterNetworkV6;
        var icmp = new byte[8 + echo.Payload.Length];
        icmp[0] = v6 ? IcmpTypes.V6EchoReply : IcmpTypes.V4EchoReply;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), echo.Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), echo.Sequence);
        echo.Payload.CopyTo(icmp, 8);
        tamper?.Invoke(icmp);
        var source = from ?? echo.Destination;
        return new Delivery(delay, Frame(source, Client(echo), 57, icmp), source);
    }

    /// <summary>An ICMP error from a router (Time Exceeded: type 11 / ICMPv6 3), quoting the request as Linux does.</summary>
    public static Delivery Error(SentEcho echo, TimeSpan delay, IPAddress router, byte type, byte code, int quotedIcmpBytes = int.MaxValue,
        byte quotedTtl = 1)
    {
        var v6 = echo.Destination.AddressFamily == AddressFamily.InterNetworkV6;
        var request = new byte[8 + echo.Payload.Length];
        request[0] = v6 ? IcmpTypes.V6EchoRequest : IcmpTypes.V4EchoRequest;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), echo.Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), echo.Sequence);
        echo.Payload.CopyTo(request, 8);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), echo.Checksum);
        var original = v6 ? IPv6Header(Client(echo), echo.Destination, quotedTtl, request) : IPv4(Client(echo), echo.Destination, quotedTtl, request);
        var header = v6 ? 40 : 20;
        var quoted = original.AsSpan(0, (int)Math.Min(original.Length, (long)header + quotedIcmpBytes)).ToArray();
        var icmp = new byte[8 + quoted.Length];
        icmp[0] = type;
        icmp[1] = code;
        quoted.CopyTo(icmp, 8);
        return new Delivery(delay, Frame(router, Client(echo), 64, icmp), router);
    }

    private static IPAddress Client(SentEcho echo) =>
        echo.Destination.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.Parse("2001:db8::1") : IPAddress.Parse("192.0.2.1");

    /// <summary>What a raw socket of the family reads: IPv4 with its header and checksums, ICMPv6 bare (the kernel checked it).</summary>
    private static byte[] Frame(IPAddress source, IPAddress destination, byte ttl, byte[] icmp)
    {
        if (source.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return icmp;
        }
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), InternetChecksum.Compute(icmp));
        return IPv4(source, destination, ttl, icmp);
    }

    private static byte[] IPv4(IPAddress source, IPAddress destination, byte ttl, byte[] icmp)
    {
        var datagram = new byte[20 + icmp.Length];
        datagram[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), (ushort)datagram.Length);
        datagram[8] = ttl;
        datagram[9] = 1;
        source.TryWriteBytes(datagram.AsSpan(12, 4), out _);
        destination.TryWriteBytes(datagram.AsSpan(16, 4), out _);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(10), InternetChecksum.Compute(datagram.AsSpan(0, 20)));
        icmp.CopyTo(datagram, 20);
        return datagram;
    }

    private static byte[] IPv6Header(IPAddress source, IPAddress destination, byte hopLimit, byte[] icmp)
    {
        var datagram = new byte[40 + icmp.Length];
        datagram[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(4), (ushort)icmp.Length);
        datagram[6] = 58;
        datagram[7] = hopLimit;
        source.TryWriteBytes(datagram.AsSpan(8, 16), out _);
        destination.TryWriteBytes(datagram.AsSpan(24, 16), out _);
        icmp.CopyTo(datagram, 40);
        return datagram;
    }

    /// <summary>Keeps the bytes handed to the parser alive for the sink call, as the real transport's receive buffer does.</summary>
    private sealed class ReceiveBatchBuffer
    {
        private byte[] _bytes = new byte[2048];

        public ReadOnlySpan<byte> Hold(byte[] datagram)
        {
            if (datagram.Length > _bytes.Length)
            {
                _bytes = new byte[datagram.Length];
            }
            datagram.CopyTo(_bytes, 0);
            return _bytes.AsSpan(0, datagram.Length);
        }
    }
}

/// <summary>
/// Lets virtual time pass while an operation runs: advances the clock a step at a time, and between steps
/// waits until the engine is at rest, however long that takes on a loaded machine: every fake's receive
/// loop asleep with nothing due, no thread running the engine's code (the scheduler's loop, its send helpers,
/// the operations' continuations: <see cref="EngineWork"/>) and no thread-pool work queued.
/// The clock never moves while any of them still works on the present, so the outcome depends on virtual
/// time alone. A real-time limit only fails a hung test; it never lets the clock move early.
/// </summary>
/// <remarks>
/// Those counts cannot see every hand-off. A continuation the thread pool has taken off its queue but not yet
/// started is neither queued nor running in the clock's context, and a thread preempted in that gap on a loaded
/// machine keeps it open for many milliseconds. Run therefore also moves the clock only while a timer on it is
/// armed (<see cref="VirtualClock.HasArmedTimer"/>): whatever the engine waits for next (a probe's deadline, a
/// delivery, the scheduler's next due probe) arms one, and a hand-off in that gap has not armed its own yet.
/// Without that rule PathMtuTests saw the clock run on by 5-12 s between a probe's timeout and the next round's
/// send, which the discovery's loop was about to make (issue 14). What the rule cannot close: a hand-off in that
/// gap while another activity's timer is armed (two hosts of one sweep, each between its own probes).
/// </remarks>
public static class VirtualTime
{
    /// <summary>How long one settle may wait for the engine to come to rest before the test fails as hung.</summary>
    private static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(60);

    public static async Task<T> Run<T>(FakeTimeProvider clock, Task<T> operation, TimeSpan? step = null, TimeSpan? realLimit = null)
    {
        await Run(clock, (Task)operation, step, realLimit);
        return await operation;
    }

    public static async Task Run(FakeTimeProvider clock, Task operation, TimeSpan? step = null, TimeSpan? realLimit = null)
    {
        var limit = realLimit ?? TimeSpan.FromSeconds(60);
        var until = DateTime.UtcNow + limit;
        var advance = step ?? VirtualClock.Resolution;
        ArgumentOutOfRangeException.ThrowIfLessThan(advance, VirtualClock.Resolution, nameof(step));
        while (!operation.IsCompleted)
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"The operation did not finish within {limit} of real time (virtual now {clock.GetUtcNow():O}; " +
                    $"a timer armed: {(clock as VirtualClock)?.HasArmedTimer.ToString() ?? "unknown"}).");
            }
            await Settle(clock, operation);
            if (operation.IsCompleted)
            {
                break;
            }
            if (clock is VirtualClock { HasArmedTimer: false })
            {
                // At rest, yet nothing waits for the clock: the work that will arm the next timer is still on its way
                // between threads, where no count sees it (see the class remarks). Moving the clock now would only
                // make that work start late; wait for it instead.
                await Task.Delay(1);
                continue;
            }
            clock.Advance(advance);
        }
        await operation;
    }

    /// <summary>
    /// Advances the clock by <paramref name="span"/> in <paramref name="step"/>s, letting the engine come to
    /// rest after each: what a test does before asserting that nothing happened in that time.
    /// </summary>
    public static async Task Pass(FakeTimeProvider clock, TimeSpan span, TimeSpan step)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, VirtualClock.Resolution);
        for (var passed = TimeSpan.Zero; passed < span; passed += step)
        {
            clock.Advance(step);
            await Settle(clock);
        }
    }

    /// <summary>
    /// Waits until the engine has done everything the clock's position makes due (see <see cref="AtRest"/>),
    /// seen twice in a row across a yield. Returns early when <paramref name="operation"/> ends. Throws
    /// <see cref="TimeoutException"/> when the engine is still busy after <see cref="HangLimit"/> of real time.
    /// </summary>
    public static async Task Settle(FakeTimeProvider clock, Task? operation = null)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var quiet = 0;
        while (quiet < 2 && operation?.IsCompleted != true)
        {
            if (AtRest(clock, out var busy))
            {
                quiet++;
                await Task.Yield();
                continue;
            }
            quiet = 0;
            if (started.Elapsed > HangLimit)
            {
                throw new TimeoutException(
                    $"The engine did not come to rest within {HangLimit} of real time (virtual now {clock.GetUtcNow():O}; {busy}).");
            }
            // Someone is still working, maybe on this very core: step aside rather than spin against it.
            await Task.Delay(1);
        }
    }

    /// <summary>
    /// Whether nothing is left to do at the clock's present: every fake's receive loop asleep with nothing due,
    /// no thread of this clock's engine running (see <see cref="EngineWork"/>), and no thread-pool work item
    /// queued (a queued continuation runs nowhere yet). Work hands itself on without a gap (a send wakes the
    /// fake before it returns, a completion queues its continuation before its thread is free), but a
    /// hand-off can fall between two of these readings; so the changes count too: the fakes' wakes and
    /// sleeps and the engine's thread entries and exits, read before and after, must not have moved.
    /// </summary>
    private static bool AtRest(FakeTimeProvider clock, out string busy)
    {
        var work = EngineWork.For(clock);
        var before = (FakeTransport.Wakes, work.Changes);
        var running = work.RunningElsewhere;
        var receiversIdle = FakeTransport.AllIdle(clock);
        var pending = ThreadPool.PendingWorkItemCount;
        var steady = (FakeTransport.Wakes, work.Changes) == before;
        busy = $"receive loops idle: {receiversIdle}, engine threads running: {running}, pool items queued: {pending}, steady: {steady}";
        return receiversIdle && running == 0 && pending == 0 && steady;
    }
}

/// <summary>
/// Counts the threads running a clock's engine code right now. The test enters the clock's context when it
/// makes a fake (an <see cref="AsyncLocal{T}"/>), and every task, continuation, timer callback and thread
/// the engine starts from there flows it; the runtime tells the value's change-handler each time a thread
/// takes the context on or puts it off, so a continuation that is executing counts, and one that finished
/// does not. Unlike the pool's busy-thread count this sees only this test's work: the test host parks
/// pool threads of its own, and other tests run beside.
/// </summary>
internal sealed class EngineWork
{
    private static readonly AsyncLocal<EngineWork?> Current = new(OnChanged);
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<FakeTimeProvider, EngineWork> ByClock = new();
    private int _running;
    private long _changes;

    public static EngineWork For(FakeTimeProvider clock) => ByClock.GetValue(clock, _ => new EngineWork());

    public static void Enter(FakeTimeProvider clock) => Current.Value = For(clock);

    /// <summary>Takes the calling thread out of any clock's context (a thread that is accounted for otherwise).</summary>
    public static void LeaveOnThisThread()
    {
        if (Current.Value is not null)
        {
            Current.Value = null;
        }
    }

    /// <summary>Every entry and exit so far: unchanged across a look means nothing started or ended meanwhile.</summary>
    public long Changes => Interlocked.Read(ref _changes);

    /// <summary>Threads in this context now, not counting the caller's (a test that settles runs in it).</summary>
    public int RunningElsewhere => Volatile.Read(ref _running) - (ReferenceEquals(Current.Value, this) ? 1 : 0);

    private static void OnChanged(AsyncLocalValueChangedArgs<EngineWork?> change)
    {
        if (ReferenceEquals(change.PreviousValue, change.CurrentValue))
        {
            return;
        }
        if (change.PreviousValue is { } left)
        {
            Interlocked.Decrement(ref left._running);
            Interlocked.Increment(ref left._changes);
        }
        if (change.CurrentValue is { } entered)
        {
            Interlocked.Increment(ref entered._running);
            Interlocked.Increment(ref entered._changes);
        }
    }
}

/// <summary>
/// The fakes' clock: a <see cref="FakeTimeProvider"/> on which a timer never fires before the next step.
/// Task.Delay hands a provider whole milliseconds, so a wait under 1 ms (the scheduler's next probe at
/// -IntervalSeconds 0.0001) reached FakeTimeProvider as a zero due time, which fires at once, inside the
/// call: the scheduler looped on the spot on a clock that only the test moves, holding its thread until
/// the test gave up waiting and moved the clock anyway. Due in 1 ms instead, the timer fires at the next
/// step, exactly as a precise one would, since every step is at least 1 ms (Run and Pass refuse less).
/// Task.Delay returns at once for a zero delay without making a timer, so no real "now" is delayed.
/// It also knows which of its timers are armed (<see cref="HasArmedTimer"/>): whether anything waits for it to move.
/// </summary>
public sealed class VirtualClock(DateTimeOffset start) : FakeTimeProvider(start)
{
    public static readonly TimeSpan Resolution = TimeSpan.FromMilliseconds(1);

    /// <summary>Timers that were armed when last set; a one-shot one leaves once the clock has passed its due time.</summary>
    private readonly HashSet<ArmedTimer> _timers = [];

    /// <summary>
    /// Whether a timer on this clock waits for it to move: a periodic one, or a one-shot one not yet due. Without
    /// one, moving the clock wakes nothing, and only changes the "now" that work still on its way will read.
    /// </summary>
    public bool HasArmedTimer
    {
        get
        {
            var now = GetUtcNow();
            lock (_timers)
            {
                _timers.RemoveWhere(timer => !timer.IsArmedAt(now));
                return _timers.Count > 0;
            }
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ArmedTimer(this, base.CreateTimer(callback, state, DueOf(dueTime), PeriodOf(period)));
        // Noted after the timer is set, from a "now" no earlier than its own: should the clock move in between, the
        // due time kept is late, never early, so an armed timer is never taken for a spent one.
        timer.Set(DueOf(dueTime), PeriodOf(period));
        return timer;
    }

    private static TimeSpan DueOf(TimeSpan dueTime) => dueTime >= TimeSpan.Zero && dueTime < Resolution ? Resolution : dueTime;

    private static TimeSpan PeriodOf(TimeSpan period) => period > TimeSpan.Zero && period < Resolution ? Resolution : period;

    /// <summary>FakeTimeProvider's timer, with when it is due kept where <see cref="HasArmedTimer"/> can read it.</summary>
    private sealed class ArmedTimer(VirtualClock clock, ITimer inner) : ITimer
    {
        private DateTimeOffset _due = DateTimeOffset.MinValue;
        private bool _periodic;
        private bool _disposed;

        /// <summary>Under the clock's timer lock.</summary>
        public bool IsArmedAt(DateTimeOffset now) => _periodic || _due > now;

        public void Set(TimeSpan dueTime, TimeSpan period)
        {
            lock (clock._timers)
            {
                if (_disposed)
                {
                    return;
                }
                var disabled = dueTime == Timeout.InfiniteTimeSpan;
                _due = disabled ? DateTimeOffset.MinValue : clock.GetUtcNow() + dueTime;
                _periodic = !disabled && period > TimeSpan.Zero && period != Timeout.InfiniteTimeSpan;
                if (disabled)
                {
                    clock._timers.Remove(this);
                }
                else
                {
                    clock._timers.Add(this);
                }
            }
        }

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            var changed = inner.Change(DueOf(dueTime), PeriodOf(period));
            Set(DueOf(dueTime), PeriodOf(period));
            return changed;
        }

        public void Dispose()
        {
            lock (clock._timers)
            {
                _disposed = true;
                clock._timers.Remove(this);
            }
            inner.Dispose();
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
