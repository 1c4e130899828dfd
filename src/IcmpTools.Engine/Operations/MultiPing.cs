using System.Diagnostics;
using System.Net;
using System.Runtime.CompilerServices;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// Sweeps many targets through the shared probers: one scheduler paces probes (a global rate, a fixed
/// interval per host, batches of up to 64 per system call), the prober's receive thread records outcomes,
/// and each host is yielded the moment its last probe has an outcome. Targets are expanded lazily and at
/// most <see cref="MultiPingOptions.ThrottleLimit"/> hosts are held at once, so memory follows the hosts in
/// flight, never the number of targets.
/// </summary>
public sealed class MultiPing : IProbeObserver, IDisposable
{
    private const int MaxProbesPerHost = 65_535;

    private Func<IcmpFamily, Prober>? _probers;
    private readonly MultiPingOptions _options;
    private readonly HostState?[] _hosts;
    private readonly Stack<int> _freeSlots;
    private readonly HandOff<HostState> _finished = new();
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly System.Collections.Concurrent.ConcurrentQueue<HostState> _resolved = new();
    private readonly System.Collections.Concurrent.ConcurrentQueue<int> _released = new();
    private readonly long _timeoutTicks;
    private readonly long _intervalTicks;
    private readonly ushort _identifier = (ushort)Random.Shared.Next(1, ushort.MaxValue + 1);
    private int _active;
    /// <summary>Every host has been admitted (set and read by the scheduler and the finishing path).</summary>
    private volatile bool _inputDone;
    /// <summary>Every target has been read and parsed, so the total is known.</summary>
    private volatile bool _allTargetsSeen;

    /// <summary>Targets parsed ahead of admission: enough to report bad ones early, few enough to stay lazy.</summary>
    private const int Lookahead = 256;
    private long _hostsDone;
    private long _hostsAlive;
    private long _probesSent;
    private long _knownTotal;
    private long _started;

    private sealed class HostState
    {
        public required string Target;
        /// <summary>The table slot it holds; -1 for a target that never got one.</summary>
        public int Slot = -1;
        public string? Name;
        public IPAddress? Address;
        public IpKey Key;
        public IcmpFamily Family;
        public Prober? Prober;
        public HostTally? Tally;
        public Exception? Error;
    }

    public MultiPing(Func<IcmpFamily, Prober> probers, MultiPingOptions options)
    {
        ArgumentNullException.ThrowIfNull(probers);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Count > MaxProbesPerHost)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Count, $"At most {MaxProbesPerHost} probes per host.");
        }
        _probers = probers;
        _options = options;
        _hosts = new HostState?[options.ThrottleLimit];
        _freeSlots = new Stack<int>(Enumerable.Range(0, options.ThrottleLimit).Reverse());
        _timeoutTicks = (long)(options.Timeout.TotalSeconds * Stopwatch.Frequency);
        _intervalTicks = (long)(options.Interval.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>Hosts finished so far.</summary>
    public long HostsDone => Interlocked.Read(ref _hostsDone);

    /// <summary>Hosts found alive so far.</summary>
    public long HostsAlive => Interlocked.Read(ref _hostsAlive);

    /// <summary>Probes sent so far.</summary>
    public long ProbesSent => Interlocked.Read(ref _probesSent);

    /// <summary>Hosts the sweep will have covered, once every target has been read; null before that.</summary>
    public long? TotalHosts => _allTargetsSeen ? Interlocked.Read(ref _knownTotal) : null;

    /// <summary>Probes per second since the first probe.</summary>
    public double ProbeRate
    {
        get
        {
            var started = Interlocked.Read(ref _started);
            var seconds = started == 0 ? 0 : Stopwatch.GetElapsedTime(started).TotalSeconds;
            return seconds <= 0 ? 0 : ProbesSent / seconds;
        }
    }

    /// <summary>
    /// Sweeps <paramref name="targets"/> (names, addresses, CIDR blocks, IPv4 ranges) and yields one result per
    /// host as it finishes, or per target that cannot be swept. One bad target never stops the others.
    /// </summary>
    public async IAsyncEnumerable<SweepResult> RunAsync(IAsyncEnumerable<string> targets,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var scheduler = Task.Run(() => ScheduleAsync(targets, stop.Token), stop.Token);
        try
        {
            await foreach (var state in _finished.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (Wanted(state))
                {
                    yield return ToResult(state);
                }
                // The slot frees only once the consumer is done with the result: a slow consumer slows
                // the sweep instead of letting finished hosts pile up.
                if (state.Slot >= 0)
                {
                    _released.Enqueue(state.Slot);
                    Signal();
                }
            }
            await scheduler.ConfigureAwait(false);
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await scheduler.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped with the consumer; nothing half-done is reported.
            }
            // The prober's table points at this sweep until its slots are reused (to spot duplicates),
            // and the prober outlives the sweep while anyone else uses it: let go of the hosts and of the
            // caller's delegate (a cmdlet, and through it the pipeline and every result it wrote).
            Array.Clear(_hosts);
            _probers = null;
        }
    }

    /// <summary>Filter left: a host the caller does not want is never built into a Host object.</summary>
    private bool Wanted(HostState state) => _options.Emit == SweepEmit.All || state.Error is not null || state.Tally is null
        || state.Tally.AnyAnswered == (_options.Emit == SweepEmit.Alive);

    private static SweepResult ToResult(HostState state)
    {
        SweepResult result;
        if (state.Error is not null || state.Tally is null || state.Address is null)
        {
            result = new SweepResult(state.Target, null, state.Error);
        }
        else
        {
            result = new SweepResult(state.Target, state.Tally.Build(state.Address.ToString(), state.Name, state.Family, state.Prober?.Kind != SocketKind.Datagram), null);
        }
        return result;
    }

    private async Task ScheduleAsync(IAsyncEnumerable<string> targets, CancellationToken cancellationToken)
    {
        var due = new Queue<(int Slot, int Probe, long Due)>();
        var v4 = RentBatch();
        var v6 = RentBatch();
        var input = targets.GetAsyncEnumerator(cancellationToken);
        IEnumerator<IPAddress>? expanding = null;
        SweepTarget? expandingTarget = null;
        Task<bool>? nextTarget = null;
        var pending = new Queue<SweepTarget>();
        var inputExhausted = false;
        var resolving = 0;
        var rateStart = Stopwatch.GetTimestamp();
        long rateSent = 0;
        var burst = _options.Rate == 0 ? long.MaxValue : Math.Max(1, Math.Min(Prober.MaxBatch, _options.Rate / 100));
        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                while (_released.TryDequeue(out var released))
                {
                    _hosts[released] = null;
                    _freeSlots.Push(released);
                }

                // Read targets ahead of admission, so bad ones are reported at once and the total is known
                // as soon as the input ends, even while a large block is still being expanded.
                while (!inputExhausted && pending.Count < Lookahead)
                {
                    if (nextTarget is null)
                    {
                        nextTarget = input.MoveNextAsync().AsTask();
                        _ = nextTarget.ContinueWith(_ => Signal(), TaskScheduler.Default);
                    }
                    if (!nextTarget.IsCompleted)
                    {
                        break;
                    }
                    var more = await nextTarget.ConfigureAwait(false);
                    nextTarget = null;
                    if (!more)
                    {
                        inputExhausted = true;
                        _allTargetsSeen = true;
                        break;
                    }
                    var text = input.Current ?? string.Empty;
                    try
                    {
                        var parsed = SweepTarget.Parse(text, _options.IncludeNetworkAndBroadcast, _options.AllowHugeBlocks);
                        Interlocked.Add(ref _knownTotal, (long)UInt128.Min(parsed.Count, (UInt128)long.MaxValue));
                        pending.Enqueue(parsed);
                    }
                    catch (InvalidTargetException e)
                    {
                        Report(new HostState { Target = text, Error = e });
                    }
                }

                // Admit new hosts while there is room, but only as fast as the rate can start them, and not
                // while probes of hosts already started are waiting: finishing a host beats starting one, so
                // the first results come out after one interval, not after every host's first probe.
                var admissions = AdmissionBudget(due, rateStart, rateSent, burst);
                while (_freeSlots.Count > 0 && !_inputDone && admissions > 0)
                {
                    if (expanding is not null)
                    {
                        if (expanding.MoveNext())
                        {
                            admissions--;
                            var slot = _freeSlots.Pop();
                            if (Admit(slot, expandingTarget!.Text, null, expanding.Current).Error is null)
                            {
                                due.Enqueue((slot, 0, Stopwatch.GetTimestamp()));
                            }
                            continue;
                        }
                        expanding.Dispose();
                        expanding = null;
                    }
                    if (!pending.TryDequeue(out var target))
                    {
                        _inputDone = inputExhausted;
                        break;
                    }
                    if (target.Name is not null)
                    {
                        resolving++;
                        admissions--;
                        _ = ResolveAsync(Admit(_freeSlots.Pop(), target.Text, target.Name, null), target.Name, cancellationToken);
                        continue;
                    }
                    expanding = target.Addresses().GetEnumerator();
                    expandingTarget = target;
                }

                while (_resolved.TryDequeue(out var resolved))
                {
                    resolving--;
                    if (resolved.Error is null)
                    {
                        due.Enqueue((resolved.Slot, 0, Stopwatch.GetTimestamp()));
                    }
                }

                // Send what is due, as the rate allows, in batches per family.
                var now = Stopwatch.GetTimestamp();
                var allowed = _options.Rate == 0
                    ? long.MaxValue
                    : (long)((now - rateStart) * (double)_options.Rate / Stopwatch.Frequency) + burst - rateSent;
                if (allowed > burst)
                {
                    // Idle time earns no credit beyond one burst: pacing stays even after a pause.
                    rateSent += allowed - burst;
                    allowed = burst;
                }
                int n4 = 0, n6 = 0;
                while (allowed > 0 && _ready.Count < MaxBatchesPerRound && due.TryPeek(out var next) && next.Due <= now)
                {
                    due.Dequeue();
                    var host = _hosts[next.Slot]!;
                    ref var spec = ref (host.Family == IcmpFamily.IPv4 ? ref v4[n4++] : ref v6[n6++]);
                    spec = new ProbeSpec
                    {
                        Destination = host.Key,
                        Identifier = _identifier,
                        Sequence = (ushort)(next.Probe + 1),
                        PayloadSize = _options.PayloadSize,
                        Ttl = _options.Ttl,
                        TrafficClass = _options.TrafficClass,
                        Source = _options.Source is null ? default : IpKey.FromAddress(_options.Source),
                        HasSource = _options.Source is not null,
                        TimeoutTicks = _timeoutTicks,
                        Token = ((long)next.Probe << 32) | (uint)next.Slot,
                    };
                    host.Tally!.MarkSent();
                    allowed--;
                    rateSent++;
                    if (next.Probe + 1 < _options.Count)
                    {
                        due.Enqueue((next.Slot, next.Probe + 1, now + _intervalTicks));
                    }
                    if (n4 == v4.Length)
                    {
                        Stage(ref v4, ref n4);
                    }
                    if (n6 == v6.Length)
                    {
                        Stage(ref v6, ref n6);
                    }
                }
                Stage(ref v4, ref n4);
                Stage(ref v6, ref n6);
                SendStaged();

                if (_inputDone && due.Count == 0 && resolving == 0)
                {
                    break;
                }

                // Sleep until the next probe is due, a token frees up, a host frees a slot or input arrives.
                var tokenTicks = _options.Rate == 0 ? 0 : Math.Max(1, (long)(Stopwatch.Frequency / (double)_options.Rate));
                var ticks = long.MaxValue;
                if (due.TryPeek(out var head))
                {
                    ticks = Math.Max(head.Due - Stopwatch.GetTimestamp(), allowed > 0 ? 0 : tokenTicks);
                }
                if (!_inputDone && _freeSlots.Count > 0 && admissions <= 0)
                {
                    // New hosts wait for the rate, not for a signal: come back when the next token is due.
                    ticks = Math.Min(ticks, tokenTicks);
                }
                if (ticks <= 0)
                {
                    continue;
                }
                var wait = ticks == long.MaxValue ? Timeout.InfiniteTimeSpan : TimeSpan.FromSeconds((double)ticks / Stopwatch.Frequency);
                await _signal.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            expanding?.Dispose();
            await input.DisposeAsync().ConfigureAwait(false);
        }

        if (Volatile.Read(ref _active) == 0)
        {
            _finished.Complete();
        }
    }

    /// <summary>How many new hosts may start this round: all there is room for when unpaced, else what the rate allows now, and none while started hosts have probes due.</summary>
    private long AdmissionBudget(Queue<(int Slot, int Probe, long Due)> due, long rateStart, long rateSent, long burst)
    {
        if (_options.Rate == 0)
        {
            return long.MaxValue;
        }
        var now = Stopwatch.GetTimestamp();
        if (due.TryPeek(out var head) && head.Due <= now)
        {
            return 0;
        }
        var allowed = (long)((now - rateStart) * (double)_options.Rate / Stopwatch.Frequency) + burst - rateSent;
        return Math.Clamp(allowed, 0, burst);
    }

    /// <summary>Batches sent per scheduler round, so admission and slot release keep up during a burst.</summary>
    private const int MaxBatchesPerRound = 16;

    private readonly List<(Prober Prober, ProbeSpec[] Specs, int Count)> _ready = new();
    private readonly Stack<ProbeSpec[]> _spareBatches = new();

    private ProbeSpec[] RentBatch() => _spareBatches.Count > 0 ? _spareBatches.Pop() : new ProbeSpec[Prober.MaxBatch];

    /// <summary>Queues a filled batch for <see cref="SendStaged"/> and starts a fresh one.</summary>
    private void Stage(ref ProbeSpec[] specs, ref int count)
    {
        if (count == 0)
        {
            return;
        }
        _ready.Add((_hosts[(int)(specs[0].Token & 0xFFFFFFFF)]!.Prober!, specs, count));
        specs = RentBatch();
        count = 0;
    }

    /// <summary>
    /// Sends the staged batches, several at once from several threads: the kernel does a packet's work
    /// (on a routed path, every hop's forwarding) on the CPU that sent it, and the transport gives each
    /// concurrent sender its own socket, so the work spreads over the cores.
    /// </summary>
    private void SendStaged()
    {
        if (_ready.Count == 0)
        {
            return;
        }
        if (Interlocked.Read(ref _started) == 0)
        {
            Interlocked.Exchange(ref _started, Stopwatch.GetTimestamp());
        }
        if (_ready.Count == 1)
        {
            var (prober, specs, count) = _ready[0];
            prober.Send(specs.AsSpan(0, count), this);
        }
        else
        {
            Parallel.For(0, _ready.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount },
                i => _ready[i].Prober.Send(_ready[i].Specs.AsSpan(0, _ready[i].Count), this));
        }
        foreach (var (_, specs, count) in _ready)
        {
            Interlocked.Add(ref _probesSent, count);
            _spareBatches.Push(specs);
        }
        _ready.Clear();
    }

    /// <summary>Puts a host in a slot; an address that cannot be probed finishes at once with its error.</summary>
    private HostState Admit(int slot, string target, string? name, IPAddress? address)
    {
        Interlocked.Increment(ref _active);
        var state = new HostState { Target = target, Name = name, Slot = slot };
        _hosts[slot] = state;
        if (address is not null)
        {
            Bind(state, address);
            if (state.Error is not null)
            {
                Finish(state);
            }
        }
        return state;
    }

    private void Bind(HostState state, IPAddress address)
    {
        state.Family = TargetResolver.FamilyOf(address);
        if (_options.Family is { } wanted && wanted != state.Family)
        {
            state.Error = new AddressFamilyMismatchException($"The target '{state.Target}' is {state.Family}, but {wanted} was asked for.");
            return;
        }
        if (_options.Source is { } source && TargetResolver.FamilyOf(source) != state.Family)
        {
            state.Error = new SocketAddressException(source, $"it is {TargetResolver.FamilyOf(source)} and the target '{state.Target}' is {state.Family}.");
            return;
        }
        try
        {
            state.Prober = (_probers ?? throw new ObjectDisposedException(nameof(MultiPing)))(state.Family);
        }
        catch (IcmpException e)
        {
            state.Error = e;
            return;
        }
        state.Address = address;
        state.Key = IpKey.FromAddress(address);
        state.Tally = new HostTally(_options.Count);
    }

    private async Task ResolveAsync(HostState state, string name, CancellationToken cancellationToken)
    {
        try
        {
            Bind(state, await TargetResolver.ResolveAsync(name, _options.Family, cancellationToken).ConfigureAwait(false));
        }
        catch (IcmpException e)
        {
            state.Error = e;
        }
        catch (OperationCanceledException)
        {
            return;
        }
        if (state.Error is not null)
        {
            Finish(state);
        }
        _resolved.Enqueue(state);
        Signal();
    }

    /// <summary>Reports a target that never got a slot (it did not parse).</summary>
    private void Report(HostState state)
    {
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref _hostsDone);
        _finished.Add(state);
        Interlocked.Decrement(ref _active);
    }

    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnProbeCompleted(in ProbeResult result)
    {
        var slot = (int)(result.Token & 0xFFFFFFFF);
        var state = _hosts[slot];
        if (state?.Tally is null || state.Key != result.Destination)
        {
            return;
        }
        if (state.Tally.Add(in result, (int)(result.Token >> 32), state.Family) == _options.Count)
        {
            Finish(state);
        }
    }

    public void OnDuplicate(in ProbeResult result)
    {
        var state = _hosts[(int)(result.Token & 0xFFFFFFFF)];
        if (state?.Tally is not null && state.Key == result.Destination)
        {
            state.Tally.AddDuplicate();
        }
    }

    private void Finish(HostState state)
    {
        Interlocked.Increment(ref _hostsDone);
        if (state.Tally?.AnyAnswered == true)
        {
            Interlocked.Increment(ref _hostsAlive);
        }
        _finished.Add(state);
        if (Interlocked.Decrement(ref _active) == 0 && _inputDone)
        {
            _finished.Complete();
        }
    }

    public void Dispose()
    {
        _signal.Dispose();
        _finished.Dispose();
    }

    private void Signal()
    {
        if (_signal.CurrentCount == 0)
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Another thread signalled first; one wake-up is all the scheduler needs.
            }
        }
    }
}
