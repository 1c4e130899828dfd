using System.Runtime.CompilerServices;

namespace IcmpTools.Engine.Probing;

/// <summary>
/// Where an operation's new work comes from. The scheduler asks for it only when nothing already started
/// is due and the rate leaves room, so under a rate limit the probes of started hosts go out before new
/// hosts begin (the first results come after one interval, not after every host's first probe).
/// </summary>
public interface IProbeSource
{
    /// <summary>
    /// Called on the scheduler's loop: enqueue up to <paramref name="budget"/> probes to start now. Returns
    /// false once nothing more will ever come. May enqueue nothing and return true (waiting for input):
    /// then call <see cref="ProbeScheduler.Signal"/> when input arrives.
    /// </summary>
    bool Admit(ProbeScheduler scheduler, int budget);
}

/// <summary>
/// The one place that decides when probes go out, for every operation: a due queue, a global rate
/// (token bucket), batches of up to <see cref="Prober.MaxBatch"/> per system call, several batches sent
/// at once from several threads, and back-pressure from the probers (a full probe table makes it wait).
/// Operations are planners: they enqueue what to send and observe the outcomes. Any failure stops the loop and is
/// handed to the operation's failure path the moment it happens, so the operation's consumer, waiting for outcomes
/// that will never come, can never wait forever.
/// </summary>
/// <remarks>
/// The methods every probe passes through (here, in the prober, the sweep, the packet writers and the frame
/// path) are marked AggressiveOptimization. Under tiered compilation the first /16 of a session otherwise ran
/// them as tier-0 and then instrumented code while the JIT recompiled them on a background thread, which on a
/// 2-core machine competes with the senders: in the bench's sparse /16 the call spent more JIT time than sending.
/// A module cannot change the host's tiering settings; this attribute is what it has.
/// </remarks>
public sealed class ProbeScheduler : IAsyncDisposable
{
    /// <summary>
    /// The longest single timer wait. Task.Delay refuses anything over 2^32-2 ms (49.7 days); a longer wait is
    /// taken in pieces, the loop looking again at what is due after each.
    /// </summary>
    internal static readonly TimeSpan LongestWait = TimeSpan.FromDays(1);

    /// <summary>Batches sent per round, so admission and new input keep up during a burst.</summary>
    private const int MaxBatchesPerRound = 16;

    private readonly TimeProvider _clock;
    private readonly int _rate;
    private readonly IProbeSource? _source;
    private readonly System.Collections.Concurrent.ConcurrentQueue<Item> _incoming = new();
    private readonly PriorityQueue<Item, (long Due, long Order)> _due = new();
    /// <summary>
    /// Items due at once (due 0: a sweep's first probes), in arrival order. They would all sort first in
    /// <see cref="_due"/> in that same order; a queue takes them without moving the large items around a heap.
    /// </summary>
    private readonly Queue<Item> _dueNow = new();
    private readonly CancellationTokenSource _stop;
    private readonly Task _loop;
    private TaskCompletionSource? _waiter;
    private int _signalled;
    private long _order;
    private long _sent;
    private long _firstSend;
    private long _lastSend;
    private volatile bool _completed;

    private readonly record struct Item(Prober Prober, ProbeSpec Spec, IProbeObserver Observer, long Due);

    /// <param name="clock">The clock due times are read on; the probers' own.</param>
    /// <param name="rate">Probes per second over everything this scheduler sends; 0 sends as fast as the sockets take them.</param>
    /// <param name="source">Where new work comes from when the due queue leaves room; null when all work is enqueued.</param>
    /// <param name="onFailure">
    /// The run's failure path: called once, on the thread that failed, with the failure (a send that threw, a prober that
    /// failed), never for a cancellation. An operation ends its consumer's results with it: the probes it waits for will
    /// not come.
    /// </param>
    public ProbeScheduler(TimeProvider clock, int rate, IProbeSource? source, Action<Exception> onFailure,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(clock);
        ArgumentOutOfRangeException.ThrowIfNegative(rate);
        ArgumentNullException.ThrowIfNull(onFailure);
        _clock = clock;
        _rate = rate;
        _source = source;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _loop = Task.Run(() => RunAsync(_stop.Token), CancellationToken.None);
        _ = _loop.ContinueWith(static (loop, state) => ((Action<Exception>)state!)(loop.Exception!.InnerException!), onFailure,
            CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Probes handed to the sockets so far.</summary>
    public long Sent => Interlocked.Read(ref _sent);

    /// <summary>The clock's timestamp of the first send (0 before it) and of the end of the latest send round.</summary>
    public (long First, long Last) SendSpan => (Interlocked.Read(ref _firstSend), Interlocked.Read(ref _lastSend));

    /// <summary>Probes per second since the first send.</summary>
    public double ProbeRate
    {
        get
        {
            var first = Interlocked.Read(ref _firstSend);
            if (first == 0)
            {
                return 0;
            }
            var seconds = _clock.GetElapsedTime(first).TotalSeconds;
            return seconds <= 0 ? 0 : Sent / seconds;
        }
    }

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    /// <summary>Queues a probe to go out at <paramref name="due"/> (a timestamp of the clock; 0: now). Thread-safe.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Enqueue(Prober prober, in ProbeSpec spec, IProbeObserver observer, long due = 0)
    {
        ArgumentNullException.ThrowIfNull(prober);
        ArgumentNullException.ThrowIfNull(observer);
        _incoming.Enqueue(new Item(prober, spec, observer, due));
        Signal();
    }

    /// <summary>Nothing more will be enqueued (beyond what the source still admits); the loop ends once the queue is empty.</summary>
    public void Complete()
    {
        _completed = true;
        Signal();
    }

    /// <summary>Wakes the loop: new input, or room freed. Never lost: a signal that finds the loop awake is kept for its next wait.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Signal()
    {
        Interlocked.Exchange(ref _signalled, 1);
        Volatile.Read(ref _waiter)?.TrySetResult();
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        var burst = _rate == 0 ? long.MaxValue : Math.Max(1, Math.Min(Prober.MaxBatch, _rate / 100));
        var rateStart = _clock.GetTimestamp();
        long rateSent = 0;
        var sourceDone = _source is null;
        var ready = new List<Item>();
        // A stop (DisposeAsync) ends the loop as completion does, by returning: an operation disposes its scheduler
        // as soon as its answer is in, so a stop is the ordinary end of most runs, not a failure worth an exception
        // (two or three a call, each costly, the process's first one milliseconds: the path MTU search's first call).
        while (!cancellationToken.IsCancellationRequested)
        {
            Interlocked.Exchange(ref _signalled, 0);
            Drain();

            var now = _clock.GetTimestamp();
            long allowed;
            if (_rate == 0)
            {
                allowed = (long)MaxBatchesPerRound * Prober.MaxBatch;
            }
            else
            {
                allowed = (long)((now - rateStart) * (double)_rate / _clock.TimestampFrequency) + burst - rateSent;
                if (allowed > burst)
                {
                    // Idle time earns no credit beyond one burst: after a pause (waiting for input or room)
                    // the pace stays even instead of catching up at full speed.
                    rateSent += allowed - burst;
                    allowed = burst;
                }
                allowed = Math.Max(0, allowed);
            }
            var room = (int)Math.Min(allowed, (long)MaxBatchesPerRound * Prober.MaxBatch);
            TakeDue(ready, now, room);
            var nothingDue = _dueNow.Count == 0 && (!_due.TryPeek(out _, out var head) || head.Due > now);
            if (ready.Count < room && nothingDue && !sourceDone)
            {
                sourceDone = !_source!.Admit(this, room - ready.Count);
                Drain();
                TakeDue(ready, now, room);
            }

            if (ready.Count > 0)
            {
                await SendAsync(ready, cancellationToken).ConfigureAwait(false);
                rateSent += ready.Count;
                ready.Clear();
                continue;
            }

            if (_completed && sourceDone && _due.Count == 0 && _dueNow.Count == 0 && _incoming.IsEmpty)
            {
                return;
            }

            // Sleep until the next probe is due, the next token, or a signal (input, room, completion).
            var wait = Timeout.InfiniteTimeSpan;
            var tokenTicks = _rate == 0 ? 0 : Math.Max(1, (long)(_clock.TimestampFrequency / (double)_rate));
            if (_dueNow.Count > 0)
            {
                // Due now but no token: the next token.
                wait = TimeSpan.FromSeconds(Math.Max(1, tokenTicks) / (double)_clock.TimestampFrequency);
            }
            else if (_due.TryPeek(out _, out head))
            {
                var ticks = Math.Max(head.Due - now, allowed > 0 ? 0 : tokenTicks);
                wait = TimeSpan.FromSeconds(Math.Max(0, ticks) / (double)_clock.TimestampFrequency);
            }
            else if (!sourceDone && allowed == 0)
            {
                wait = TimeSpan.FromSeconds(tokenTicks / (double)_clock.TimestampFrequency);
            }
            await WaitAsync(wait, cancellationToken).ConfigureAwait(false);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Drain()
    {
        while (_incoming.TryDequeue(out var item))
        {
            if (item.Due == 0)
            {
                _dueNow.Enqueue(item);
            }
            else
            {
                _due.Enqueue(item, (item.Due, _order++));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void TakeDue(List<Item> ready, long now, int room)
    {
        while (ready.Count < room && _dueNow.TryDequeue(out var item))
        {
            ready.Add(item);
        }
        while (ready.Count < room && _due.TryPeek(out _, out var key) && key.Due <= now)
        {
            ready.Add(_due.Dequeue());
        }
    }

    /// <summary>The shortest sleep Task.Delay takes on any clock.</summary>
    private static readonly TimeSpan MinimumWait = TimeSpan.FromMilliseconds(1);

    private async Task WaitAsync(TimeSpan wait, CancellationToken cancellationToken)
    {
        if (wait == TimeSpan.Zero)
        {
            return;
        }
        var waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // Publish the waiter, then look for a signal that came before it: with full fences on both sides,
        // either Signal sees the waiter or this sees the flag.
        Interlocked.Exchange(ref _waiter, waiter);
        if (Interlocked.Exchange(ref _signalled, 0) == 1)
        {
            return;
        }
        // A stop wakes the loop as a signal does; the loop then sees the token and returns (see RunAsync).
        using var stop = cancellationToken.UnsafeRegister(static waiter => ((TaskCompletionSource)waiter!).TrySetResult(), waiter);
        if (wait == Timeout.InfiniteTimeSpan)
        {
            await waiter.Task.ConfigureAwait(false);
            return;
        }
        using var timeout = new CancellationTokenSource();
        // Task.Delay counts whole milliseconds and returns at once for less: a next probe due in 100 µs
        // (-IntervalSeconds 0.0001) made this loop spin until it was due, a core busy on a real clock and
        // forever on a virtual one. Waking a little late costs no probe: all that fell due goes out at once.
        var delay = Task.Delay(wait < MinimumWait ? MinimumWait : wait < LongestWait ? wait : LongestWait, _clock, timeout.Token);
        await Task.WhenAny(waiter.Task, delay).ConfigureAwait(false);
        await timeout.CancelAsync().ConfigureAwait(false);
    }

    /// <summary>
    /// Sends the round's probes grouped into batches per prober and observer, spread over the cores: the kernel
    /// does a packet's work (on a routed path, every hop's forwarding) on the CPU that sent it.
    /// </summary>
    /// <remarks>
    /// Synchronous while the probers have room and no helper is still sending: a /16 at full speed is 64 rounds of
    /// 1,024 batches' worth, and an async method's state machine runs tier-0, then instrumented code (the attribute
    /// does not reach its MoveNext), recompiled in the middle of a session's first /16 while it competes with the senders.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private Task SendAsync(List<Item> ready, CancellationToken cancellationToken)
    {
        if (Interlocked.Read(ref _firstSend) == 0)
        {
            Interlocked.Exchange(ref _firstSend, _clock.GetTimestamp());
        }
        var batches = _batches;
        foreach (var item in ready)
        {
            var at = -1;
            for (var i = batches.Count - 1; i >= 0; i--)
            {
                if (batches[i].Prober == item.Prober && batches[i].Observer == item.Observer && batches[i].Count < Prober.MaxBatch)
                {
                    at = i;
                    break;
                }
            }
            if (at < 0)
            {
                batches.Add((item.Prober, item.Observer, _spare.Count > 0 ? _spare.Pop() : new ProbeSpec[Prober.MaxBatch], 0));
                at = batches.Count - 1;
            }
            var batch = batches[at];
            batch.Specs[batch.Count] = item.Spec;
            batches[at] = batch with { Count = batch.Count + 1 };
        }
        Task sending;
        try
        {
            sending = SendBatches(batches, cancellationToken);
        }
        catch
        {
            RecycleBatches();
            throw;
        }
        if (!sending.IsCompletedSuccessfully)
        {
            return FinishSendAsync(sending, ready.Count);
        }
        RecycleBatches();
        CountSent(ready.Count);
        return Task.CompletedTask;
    }

    /// <summary>A round that had to wait (for room in a probe table, or for a helper still sending): finished here.</summary>
    private async Task FinishSendAsync(Task sending, int count)
    {
        try
        {
            await sending.ConfigureAwait(false);
        }
        finally
        {
            RecycleBatches();
        }
        CountSent(count);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void RecycleBatches()
    {
        foreach (var batch in _batches)
        {
            _spare.Push(batch.Specs);
        }
        _batches.Clear();
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void CountSent(int count)
    {
        Interlocked.Add(ref _sent, count);
        Interlocked.Exchange(ref _lastSend, _clock.GetTimestamp());
    }

    private readonly List<(Prober Prober, IProbeObserver Observer, ProbeSpec[] Specs, int Count)> _batches = new();
    private readonly Stack<ProbeSpec[]> _spare = new();

    /// <summary>
    /// Sends a round's batches: the scheduler's own thread takes them one by one, and a helper per further core
    /// takes them too once it runs. On a loaded machine a helper may start late or not at all before the round
    /// is over; waiting for it to be scheduled cost more than its share of the work (a /16 sent in 6-10 s
    /// on 1 s of CPU), so the round closes when the batches are taken and waits only for helpers sending one.
    /// Completes synchronously when every batch found room and no helper is still sending.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static Task SendBatches(List<(Prober Prober, IProbeObserver Observer, ProbeSpec[] Specs, int Count)> batches,
        CancellationToken cancellationToken)
    {
        if (batches.Count == 1)
        {
            var (prober, observer, specs, count) = batches[0];
            return prober.TrySendBatch(specs.AsSpan(0, count), observer)
                ? Task.CompletedTask
                : prober.SendAsync(specs.AsMemory(0, count), observer, cancellationToken).AsTask();
        }
        var round = new SendRound(batches, cancellationToken);
        for (var lane = 1; lane < Math.Min(Environment.ProcessorCount, batches.Count); lane++)
        {
            // The state overload: no closure per round, and the execution context flows as with Task.Run.
            ThreadPool.QueueUserWorkItem(static r => r.Help(), round, preferLocal: false);
        }
        Exception? failure = null;
        try
        {
            var own = round.Send();
            if (!own.IsCompletedSuccessfully)
            {
                return FinishRoundAsync(round, own);
            }
        }
#pragma warning disable CA1031 // Rethrown below, once no helper still reads the round's batches (the caller reuses them).
        catch (Exception e)
#pragma warning restore CA1031
        {
            failure = e;
        }
        round.Close();
        if (failure is null && round.Helpers.IsCompletedSuccessfully)
        {
            return Task.CompletedTask;
        }
        return EndRoundAsync(round, failure is null ? null : System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure));
    }

    /// <summary>The scheduler's lane had to wait for room: it finishes its share, then the round ends as <see cref="EndRoundAsync"/> says.</summary>
    private static async Task FinishRoundAsync(SendRound round, Task own)
    {
        System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure = null;
        try
        {
            await own.ConfigureAwait(false);
        }
#pragma warning disable CA1031 // Rethrown by EndRoundAsync, once no helper still reads the round's batches.
        catch (Exception e)
#pragma warning restore CA1031
        {
            failure = System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(e);
        }
        round.Close();
        await EndRoundAsync(round, failure).ConfigureAwait(false);
    }

    /// <summary>Waits for the helpers still sending; the scheduler's own failure is the one reported, else a helper's.</summary>
    private static async Task EndRoundAsync(SendRound round, System.Runtime.ExceptionServices.ExceptionDispatchInfo? failure)
    {
        try
        {
            await round.Helpers.ConfigureAwait(false);
        }
        catch (Exception) when (failure is not null)
        {
            // The scheduler's own failure is the one reported.
        }
        failure?.Throw();
    }

    /// <summary>One round's batches, claimed one at a time by whichever lane comes first.</summary>
    private sealed class SendRound(List<(Prober Prober, IProbeObserver Observer, ProbeSpec[] Specs, int Count)> batches,
        CancellationToken cancellationToken)
    {
        private readonly TaskCompletionSource _helpersDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _next = -1;
        /// <summary>Helpers inside a claim, plus one for the round until it closes.</summary>
        private int _active = 1;
        private Exception? _failure;

        /// <summary>Ends once the round is closed and no helper is sending; faults with a helper's failure.</summary>
        public Task Helpers => _helpersDone.Task;

        /// <summary>Sends claimed batches until none is left; completes synchronously unless a prober's table is full.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public Task Send()
        {
            var waiting = SendWhileRoom();
            return waiting < 0 ? Task.CompletedTask : SendAfterRoomAsync(waiting);
        }

        /// <summary>Sends claimed batches while their probers have room: the index of one claimed and not sent for want of room, or -1 once none is left.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private int SendWhileRoom()
        {
            int i;
            while ((i = Interlocked.Increment(ref _next)) < batches.Count)
            {
                var (prober, observer, specs, count) = batches[i];
                if (!prober.TrySendBatch(specs.AsSpan(0, count), observer))
                {
                    return i;
                }
            }
            return -1;
        }

        private async Task SendAfterRoomAsync(int waiting)
        {
            do
            {
                var (prober, observer, specs, count) = batches[waiting];
                await prober.SendAsync(specs.AsMemory(0, count), observer, cancellationToken).ConfigureAwait(false);
            }
            while ((waiting = SendWhileRoom()) >= 0);
        }

        /// <summary>A helper lane, on a thread-pool thread: sends what it can claim, then leaves.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Help()
        {
            Interlocked.Increment(ref _active);
            Task sending;
            try
            {
                // A closed round has handed out every index; a late helper finds nothing and leaves.
                sending = Send();
            }
#pragma warning disable CA1031 // Handed to the scheduler's loop, which fails with it (and calls the failure path).
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _failure, e, null);
                Leave();
                return;
            }
            if (sending.IsCompletedSuccessfully)
            {
                Leave();
                return;
            }
            _ = HelpAfterRoomAsync(sending);
        }

        private async Task HelpAfterRoomAsync(Task sending)
        {
            try
            {
                await sending.ConfigureAwait(false);
            }
#pragma warning disable CA1031 // Handed to the scheduler's loop, which fails with it (and calls the failure path).
            catch (Exception e)
#pragma warning restore CA1031
            {
                Interlocked.CompareExchange(ref _failure, e, null);
            }
            finally
            {
                Leave();
            }
        }

        /// <summary>The scheduler's lane is done: nothing more is handed out.</summary>
        public void Close()
        {
            Interlocked.Exchange(ref _next, int.MaxValue / 2);
            Leave();
        }

        private void Leave()
        {
            if (Interlocked.Decrement(ref _active) == 0)
            {
                if (Volatile.Read(ref _failure) is { } failure)
                {
                    _helpersDone.TrySetException(failure);
                }
                else
                {
                    _helpersDone.TrySetResult();
                }
            }
        }
    }

    /// <summary>Stops the loop (probes already sent still get their outcomes from the prober) and waits for it.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped on request.
        }
#pragma warning disable CA1031 // A failure was already handed to the failure path when it happened.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        _stop.Dispose();
    }
}
