using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// Sweeps many targets. A planner on the one <see cref="ProbeScheduler"/>: it decides which hosts start
/// (the scheduler asks when the rate leaves room and nothing started is due) and which probe follows which
/// (one interval after the previous one left); the scheduler decides when packets go, the prober matches
/// answers, and each host is yielded the moment its last probe has an outcome.
/// </summary>
/// <remarks>
/// Memory follows the hosts in flight, never the number of targets: targets are read lazily (a few
/// hundred ahead, so bad ones are reported at once), blocks are expanded one address at a time, at most
/// <see cref="MultiPingOptions.ThrottleLimit"/> hosts are held, and a host's place frees only once the
/// consumer has taken its result, so a slow consumer slows the sweep instead of piling up results.
/// The sweep ends in one place: the host count and the end of input change together under one lock.
/// </remarks>
public sealed class MultiPing : IProbeObserver, IProbeSource, IDisposable
{
    private const int MaxProbesPerHost = 65_535;
    /// <summary>Targets parsed ahead of admission: enough to report bad ones early, few enough to stay lazy.</summary>
    private const int Lookahead = 256;

    private Func<IcmpFamily, Prober>? _probers;
    private readonly MultiPingOptions _options;
    private readonly TimeProvider _clock;
    private readonly HostState?[] _hosts;
    private readonly Stack<int> _freeSlots;
    private readonly System.Collections.Concurrent.ConcurrentQueue<int> _released = new();
    /// <summary>
    /// 1 while admission may be waiting for a released place: only then does a release wake the scheduler.
    /// A dead host of a sparse block frees its place on the receive thread, tens of thousands within one
    /// timeout at a sweep's end, and a wake-up each cost the scheduler a round for nothing to admit.
    /// </summary>
    private int _wantsRoom = 1;
    private readonly Channel<HostState> _finished = Channel.CreateUnbounded<HostState>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Channel<SweepTarget> _lookahead = Channel.CreateBounded<SweepTarget>(
        new BoundedChannelOptions(Lookahead) { SingleReader = true, SingleWriter = true });
    private readonly ProbeSpec _template;
    private readonly long _timeoutTicks;
    private readonly long _intervalTicks;
    private ProbeScheduler? _scheduler;
    private IEnumerator<IPAddress>? _expanding;
    private SweepTarget? _expandingTarget;

    /// <summary>Guards the pair that decides the end: hosts not yet finished, and whether input is done.</summary>
    private readonly object _endGate = new();
    private int _active;
    private bool _inputDone;

    private long _hostsDone;
    private long _hostsAlive;
    private UInt128 _knownTotal;
    private volatile bool _allTargetsSeen;

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

    public MultiPing(Func<IcmpFamily, Prober> probers, MultiPingOptions options, TimeProvider? clock = null)
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
        _clock = clock ?? TimeProvider.System;
        _hosts = new HostState?[options.ThrottleLimit];
        _freeSlots = new Stack<int>(Enumerable.Range(0, options.ThrottleLimit).Reverse());
        _timeoutTicks = Ticks.From(options.Timeout, _clock);
        _intervalTicks = Ticks.From(options.Interval, _clock);
        _template = new ProbeSpec
        {
            Identifier = (ushort)Random.Shared.Next(1, ushort.MaxValue + 1),
            PayloadSize = options.PayloadSize,
            Ttl = options.Ttl,
            TrafficClass = options.TrafficClass,
            Source = options.Source is null ? default : IpKey.FromAddress(options.Source),
            HasSource = options.Source is not null,
            TimeoutTicks = _timeoutTicks,
            // Under 8 bytes of payload a probe carries no cookie: its answers can be matched only by header.
            MatchWithoutCookie = options.PayloadSize < ProbeCookie.Size,
        };
    }

    /// <summary>Hosts finished so far.</summary>
    public long HostsDone => Interlocked.Read(ref _hostsDone);

    /// <summary>Hosts found alive so far.</summary>
    public long HostsAlive => Interlocked.Read(ref _hostsAlive);

    /// <summary>Probes sent so far.</summary>
    public long ProbesSent => _scheduler?.Sent ?? 0;

    /// <summary>Hosts the sweep will have covered, once every target has been read; null before that.</summary>
    public long? TotalHosts => _allTargetsSeen ? (long)UInt128.Min(_knownTotal, long.MaxValue) : null;

    /// <summary>
    /// Timestamps (of the sweep's clock) of the first probe sent and of the end of the last send: a sweep
    /// ought to end one timeout after the last, and the benchmarks measure how close it comes.
    /// </summary>
    public (long First, long Last) SendSpan => _scheduler?.SendSpan ?? (0, 0);

    /// <summary>Probes per second since the first probe.</summary>
    public double ProbeRate => _scheduler?.ProbeRate ?? 0;

    /// <summary>
    /// Sweeps <paramref name="targets"/> (names, addresses, CIDR blocks, IPv4 ranges; blank lines and lines
    /// starting with # are skipped, as fping reads a hosts file) and yields one result per host as it
    /// finishes, or per target that cannot be swept. One bad target never stops the others; a failure of
    /// the sockets ends the sweep with its exception.
    /// </summary>
    public async IAsyncEnumerable<SweepResult> RunAsync(IAsyncEnumerable<string> targets,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(targets);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var scheduler = new ProbeScheduler(_clock, _options.Rate, this, e => _finished.Writer.TryComplete(e), stop.Token);
        _scheduler = scheduler;
        var reader = Task.Run(() => ReadTargetsAsync(targets, stop.Token), CancellationToken.None);
        try
        {
            // The scheduler's failure path completes the channel with the failure, which WaitToReadAsync throws as it is.
            while (await _finished.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (_finished.Reader.TryRead(out var state))
                {
                    yield return ToResult(state);
                    // The slot frees only once the consumer is done with the result.
                    if (state.Slot >= 0)
                    {
                        ReleasePlace(state.Slot);
                    }
                }
            }
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await scheduler.DisposeAsync().ConfigureAwait(false);
            try
            {
                // The reader owns the target enumerator and disposes it only after its pending read has ended.
                await reader.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped with the consumer; nothing half-done is reported.
            }
            _expanding?.Dispose();
            // The prober's table points at this sweep until its slots are reused (to spot duplicates),
            // and the prober outlives the sweep while anyone else uses it: let go of the hosts and of the
            // caller's delegate (a cmdlet, and through it the pipeline and every result it wrote).
            Array.Clear(_hosts);
            _probers = null;
        }
    }

    /// <summary>Reads and parses targets ahead of admission; bad ones are reported at once, in input order.</summary>
    private async Task ReadTargetsAsync(IAsyncEnumerable<string> targets, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var text in targets.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                var line = text?.Trim() ?? string.Empty;
                if (line.Length == 0 || line.StartsWith('#'))
                {
                    continue;
                }
                SweepTarget parsed;
                try
                {
                    parsed = SweepTarget.Parse(line, _options.IncludeNetworkAndBroadcast, _options.AllowHugeBlocks);
                }
                catch (InvalidTargetException e)
                {
                    Interlocked.Increment(ref _hostsDone);
                    _finished.Writer.TryWrite(new HostState { Target = text!, Error = e });
                    continue;
                }
                if (parsed.Family is { } family && FamilyError(text!, family) is { } wrongFamily)
                {
                    // Every address of a block shares its family: one error for the target, not one per address.
                    Interlocked.Increment(ref _hostsDone);
                    _finished.Writer.TryWrite(new HostState { Target = text!, Error = wrongFamily });
                    continue;
                }
                _knownTotal = UInt128.MaxValue - _knownTotal < parsed.Count ? UInt128.MaxValue : _knownTotal + parsed.Count;
                await _lookahead.Writer.WriteAsync(parsed, cancellationToken).ConfigureAwait(false);
                _scheduler?.Signal();
            }
            _allTargetsSeen = true;
            _lookahead.Writer.TryComplete();
        }
        catch (OperationCanceledException)
        {
            _lookahead.Writer.TryComplete();
            throw;
        }
#pragma warning disable CA1031 // Whatever the caller's enumerator threw ends the sweep with it, through the results.
        catch (Exception e)
#pragma warning restore CA1031
        {
            _lookahead.Writer.TryComplete(e);
            _finished.Writer.TryComplete(e);
        }
        finally
        {
            _scheduler?.Signal();
        }
    }

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    /// <summary>The scheduler has room: start up to <paramref name="budget"/> new hosts. Runs on the scheduler's loop only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Admit(ProbeScheduler scheduler, int budget)
    {
        // Asked for before the queue is read (full fences on both sides): a place released after this wakes us.
        Interlocked.Exchange(ref _wantsRoom, 1);
        while (_released.TryDequeue(out var released))
        {
            _hosts[released] = null;
            _freeSlots.Push(released);
        }
        var admitted = 0;
        while (admitted < budget && _freeSlots.Count > 0)
        {
            if (_expanding is not null)
            {
                if (_expanding.MoveNext())
                {
                    admitted++;
                    var state = Start(_freeSlots.Pop(), _expandingTarget!.Text, null);
                    Bind(state, _expanding.Current);
                    Begin(scheduler, state);
                    continue;
                }
                _expanding.Dispose();
                _expanding = null;
            }
            if (!_lookahead.Reader.TryRead(out var target))
            {
                if (_lookahead.Reader.Completion.IsCompleted)
                {
                    EndOfInput();
                    return false;
                }
                // Waiting for input: the reader signals when more comes.
                return true;
            }
            if (target.Name is not null)
            {
                admitted++;
                _ = ResolveAsync(scheduler, Start(_freeSlots.Pop(), target.Text, target.Name), target.Name);
                continue;
            }
            _expanding = target.Addresses().GetEnumerator();
            _expandingTarget = target;
        }
        // Out of budget or of free places: a release or the next round brings us back.
        return true;
    }

    private void EndOfInput()
    {
        // Nothing more to admit: releases need not wake the scheduler any more.
        Interlocked.Exchange(ref _wantsRoom, 0);
        lock (_endGate)
        {
            _inputDone = true;
            if (_active == 0)
            {
                _finished.Writer.TryComplete();
            }
        }
    }

    /// <summary>A host's place is free again (its result taken, or never wanted); wakes admission when it waits for one.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ReleasePlace(int slot)
    {
        _released.Enqueue(slot);
        if (Interlocked.Exchange(ref _wantsRoom, 0) == 1)
        {
            _scheduler?.Signal();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private HostState Start(int slot, string target, string? name)
    {
        lock (_endGate)
        {
            _active++;
        }
        var state = new HostState { Target = target, Name = name, Slot = slot };
        _hosts[slot] = state;
        return state;
    }

    /// <summary>Queues the host's first probe, or finishes it at once with the error that keeps it from being probed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Begin(ProbeScheduler scheduler, HostState state)
    {
        if (state.Error is not null)
        {
            Finish(state);
            return;
        }
        // Counted when queued: the answer can beat the sender's own bookkeeping back on a fast path.
        state.Tally!.MarkSent();
        scheduler.Enqueue(state.Prober!, Spec(state, 0), this);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private ProbeSpec Spec(HostState state, int probe)
    {
        var spec = _template;
        spec.Destination = state.Key;
        spec.Sequence = (ushort)(probe + 1);
        spec.Token = ((long)probe << 32) | (uint)state.Slot;
        return spec;
    }

    /// <summary>Why a target of <paramref name="family"/> cannot be swept with these options (-IPv4/-IPv6, -Source); null when it can.</summary>
    private IcmpException? FamilyError(string target, IcmpFamily family)
    {
        if (_options.Family is { } wanted && wanted != family)
        {
            return new AddressFamilyMismatchException($"The target '{target}' is {family}, but {wanted} was asked for.");
        }
        if (_options.Source is { } source && TargetResolver.FamilyOf(source) != family)
        {
            return new SocketAddressException(source, $"it is {TargetResolver.FamilyOf(source)} and the target '{target}' is {family}.");
        }
        return null;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Bind(HostState state, IPAddress address)
    {
        state.Family = TargetResolver.FamilyOf(address);
        if (FamilyError(state.Target, state.Family) is { } wrongFamily)
        {
            state.Error = wrongFamily;
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
        state.Tally = new HostTally();
    }

    private async Task ResolveAsync(ProbeScheduler scheduler, HostState state, string name)
    {
        try
        {
            Bind(state, await TargetResolver.ResolveAsync(name, _options.Family, CancellationToken.None).ConfigureAwait(false));
        }
        catch (IcmpException e)
        {
            state.Error = e;
        }
        Begin(scheduler, state);
    }

    private static SweepResult ToResult(HostState state) =>
        state.Error is not null || state.Tally is null || state.Address is null
            ? new SweepResult(state.Target, null, state.Error)
            : new SweepResult(state.Target, state.Tally.Build(state.Address.ToString(), state.Name, state.Family, state.Prober?.Kind != SocketKind.Datagram), null);

    /// <summary>A probe is leaving (or was refused): its successor is due one interval later.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnProbeSent(in ProbeHandle handle, long token)
    {
        var state = _hosts[(int)(token & 0xFFFFFFFF)];
        if (state?.Tally is null)
        {
            return;
        }
        ScheduleNext(state, (int)(token >> 32));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ScheduleNext(HostState state, int probe)
    {
        if (probe + 1 < _options.Count)
        {
            state.Tally!.MarkSent();
            _scheduler?.Enqueue(state.Prober!, Spec(state, probe + 1), this, _clock.GetTimestamp() + _intervalTicks);
        }
    }

    // Hot path of every sweep: compiled fully optimised at once, so the first sweep in a session does not run tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnProbeCompleted(in ProbeResult result)
    {
        var state = _hosts[(int)(result.Token & 0xFFFFFFFF)];
        if (state?.Tally is null || state.Key != result.Destination)
        {
            return;
        }
        if (result.Failure is { } failure)
        {
            _finished.Writer.TryComplete(new SocketUnavailableException($"The {state.Family} ICMP socket failed: {failure.Message}", failure));
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
            state.Tally.AddDuplicate(in result);
        }
    }

    /// <summary>Filter left: a host the caller does not want is never built into a Host object.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Wanted(HostState state) => _options.Emit == SweepEmit.All || state.Error is not null || state.Tally is null
        || state.Tally.AnyAnswered == (_options.Emit == SweepEmit.Alive);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Finish(HostState state)
    {
        Interlocked.Increment(ref _hostsDone);
        if (state.Tally?.AnyAnswered == true)
        {
            Interlocked.Increment(ref _hostsAlive);
        }
        if (Wanted(state))
        {
            _finished.Writer.TryWrite(state);
        }
        else
        {
            ReleasePlace(state.Slot);
        }
        lock (_endGate)
        {
            if (--_active == 0 && _inputDone)
            {
                _finished.Writer.TryComplete();
            }
        }
    }

    public void Dispose() => _finished.Writer.TryComplete();
}
