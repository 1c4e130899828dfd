using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Operations;

/// <summary>What came back for one traceroute probe, as the planner needs it.</summary>
internal readonly record struct TraceAnswer(IcmpStatus Status, string Responder, int Code, double RttMilliseconds,
    int ReplyTtl, int QuotedTtl)
{
    /// <summary>RFC 4884 extensions the answer carried; null when none.</summary>
    public IcmpExtensions? Extensions { get; init; }
}

/// <summary>A probe the planner wants on the wire now: its id (the probe's token), TTL, flow and how long it may wait.</summary>
internal readonly record struct PlannedProbe(int Id, int Ttl, int Flow, long TimeoutTicks);

/// <summary>A probe whose wait the planner cut short (a hop beyond it answered): its new deadline.</summary>
internal readonly record struct RetimedProbe(int Id, long Deadline);

/// <summary>
/// Decides which probes one trace sends and what their answers mean; it never touches a socket or a
/// clock of its own. The driver (<see cref="Traceroute"/>) calls it from one thread: <see cref="TakeDue"/>
/// for the probes to send, <see cref="OnSent"/> as each leaves, <see cref="OnAnswer"/> / <see cref="OnTimedOut"/> as outcomes arrive,
/// <see cref="Update"/> after each batch of them, then <see cref="TakeFinishedHops"/>,
/// <see cref="TakeCancelled"/> and <see cref="TakeRetimed"/> (so the prober frees those slots and
/// times probes out itself). Times are timestamps of the operation's TimeProvider. The planner times
/// a probe out on its own only <c>expirySlack</c> after its deadline: the prober, which drains the
/// socket before it expires anything, decides first, and the planner's expiry is a backstop.
///
/// The plan: every TTL of a window (16 beyond the last hop that answered, as traceroute 2.x keeps 16
/// probes out) is probed at once, each round of <see cref="TracerouteOptions.Count"/> probes one
/// <see cref="TracerouteOptions.Interval"/> after the last. A probe waits the full timeout until a hop
/// beyond it answers; then it waits only <see cref="NearFactor"/> times the RTT of the hops beyond (at
/// least <see cref="MinAdaptiveWait"/>), as traceroute 2.x's "near" wait does. The trace ends at the
/// first TTL the destination answered (or a router answered Destination Unreachable), after
/// <see cref="TracerouteOptions.MaxSilentHops"/> silent hops past the last hop that answered, or at
/// MaxHops. A hop is handed out once it and every hop below it are final.
///
/// With <see cref="TracerouteOptions.Multipath"/> each TTL is probed once per flow, and the number of
/// flows per TTL grows by the MDA stopping rule until, for every responder at d-1, the flows through it
/// rule out one more next hop at d at 95 % confidence.
/// </summary>
internal sealed class TraceroutePlanner : ITracePlanner
{
    /// <summary>TTLs probed beyond the last hop that answered.</summary>
    internal const int Window = 16;
    /// <summary>A silent probe waits this many times the RTT of the hops beyond it that answered.</summary>
    internal const double NearFactor = 10;
    /// <summary>Flows per TTL that -Multipath never goes beyond.</summary>
    internal const int MaxFlows = 128;
    /// <summary>
    /// The least adaptive wait. RTTs of microseconds in a lab must not turn scheduling noise into loss: on a
    /// loaded machine the kernel defers part of a burst's forwarding to ksoftirqd, and those answers came
    /// 10+ ms after the answers of probes sent later (seen in about 1 trace in 200 with a 10 ms floor).
    /// </summary>
    internal static readonly TimeSpan MinAdaptiveWait = TimeSpan.FromMilliseconds(20);

    private readonly TracerouteOptions _options;
    private readonly string _target;
    private readonly IcmpFamily _family;
    private readonly long _frequency;
    private readonly long _start;
    private readonly long _timeoutTicks;
    private readonly long _intervalTicks;
    private readonly long _minAdaptiveTicks;
    private readonly List<Probe> _probes = [];
    private readonly HopState[] _hops;
    private readonly List<Hop> _finished = [];
    private readonly List<int> _cancelled = [];
    private readonly List<RetimedProbe> _retimed = [];
    private readonly List<string> _newResponders = [];
    private readonly HashSet<string> _responders = new(StringComparer.Ordinal);
    private readonly long _expirySlack;
    private readonly MultipathStoppingRule _rule;
    /// <summary>Highest TTL any answer came back for; MinHops - 1 while none did.</summary>
    private int _frontier;
    /// <summary>The last distance that can be a hop; only ever comes down.</summary>
    private int _end;
    private int _nextToEmit;

    private enum ProbeState
    {
        Pending,
        Answered,
        TimedOut,
        /// <summary>No longer needed (beyond the end, or its hop already decided): its outcome never counts.</summary>
        Cancelled,
    }

    private sealed class Probe
    {
        public int Ttl;
        public int Flow;
        public int Round;
        /// <summary>When it was planned, then when it left once <see cref="OnWire"/>.</summary>
        public long Sent;
        /// <summary>The driver reported the send: only then does the planner's own expiry run for it.</summary>
        public bool OnWire;
        public long Deadline;
        public ProbeState State;
        public TraceAnswer Answer;
        /// <summary>Multipath: sent again because this one timed out; the retry speaks for its flow.</summary>
        public bool Superseded;
        /// <summary>Multipath: the second try of a flow whose first timed out.</summary>
        public bool IsRetry;
    }

    private sealed class HopState
    {
        public readonly List<int> Probes = [];
        /// <summary>Rounds created (normal mode) or flows created (multipath).</summary>
        public int Created;
        /// <summary>Flows wanted (multipath).</summary>
        public int Wanted;
        public int Pending;
        public int Answered;
        public double MaxRtt = double.NaN;
        public bool Emitted;
        /// <summary>Multipath: repeats of one flow sent to tell a per-packet balancer from a per-flow one (rounds 1, 2, ...).</summary>
        public int ConfirmWanted;
        public int ConfirmCreated;
        public int ConfirmFlow;
        /// <summary>Multipath: probes that timed out after a shortened wait, to be sent once more (see <see cref="RetryIfLate"/>).</summary>
        public readonly List<int> Retries = [];
    }

    /// <param name="handOffLatency">The transport's <see cref="Sockets.TransportCapabilities.HandOffLatency"/>: the least adaptive wait rises to it.</param>
    public TraceroutePlanner(string target, IcmpFamily family, TracerouteOptions options, long timestampFrequency, long start,
        long expirySlack = 0, TimeSpan handOffLatency = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        _target = target;
        _family = family;
        _options = options;
        _rule = options.MultipathConfidence == MultipathStoppingRule.DefaultConfidence
            ? MultipathStoppingRule.Default
            : new MultipathStoppingRule(options.MultipathConfidence);
        _frequency = timestampFrequency;
        _start = start;
        _expirySlack = expirySlack;
        _timeoutTicks = ToTicks(options.Timeout);
        _intervalTicks = ToTicks(options.Interval);
        _minAdaptiveTicks = Math.Min(_timeoutTicks, ToTicks(handOffLatency > MinAdaptiveWait ? handOffLatency : MinAdaptiveWait));
        _hops = new HopState[options.MaxHops + 2];
        for (var i = 0; i < _hops.Length; i++)
        {
            _hops[i] = new HopState { Wanted = options.Multipath ? _rule.ProbesNeeded(1) : 0 };
        }
        _frontier = options.MinHops - 1;
        _end = options.MaxHops;
        _nextToEmit = options.MinHops;
    }

    /// <summary>Told each answer the planner counts (not the late ones it ignores): the rounds planner tallies responders from it.</summary>
    public Action<int, TraceAnswer>? Accepted { get; init; }

    /// <summary>Every hop has been handed out (or the trace ended): nothing more will be sent or emitted.</summary>
    public bool IsDone => _nextToEmit > _end;

    /// <summary>The distance of the destination, or of the router that ended the trace, once known; else null.</summary>
    public int? EndDistance => _end < _options.MaxHops || IsDone ? _end : null;

    /// <summary>The earliest time something is due: a round to send or a deadline; long.MaxValue when none.</summary>
    public long NextWake
    {
        get
        {
            var wake = long.MaxValue;
            foreach (var probe in _probes)
            {
                if (probe.State == ProbeState.Pending && probe.OnWire && probe.Deadline + _expirySlack < wake)
                {
                    wake = probe.Deadline + _expirySlack;
                }
            }
            if (!_options.Multipath && !IsDone)
            {
                var horizon = Horizon;
                for (var ttl = _options.MinHops; ttl <= horizon; ttl++)
                {
                    var hop = _hops[ttl];
                    if (hop.Created < _options.Count && !(_options.FastMode && hop.Answered > 0))
                    {
                        wake = Math.Min(wake, _start + (hop.Created * _intervalTicks));
                    }
                }
            }
            return wake;
        }
    }

    /// <summary>
    /// The last TTL probed now: the window past the last hop that answered, or the silent run the stop rule
    /// waits for when that is longer (a window shorter than the run would never let the trace end).
    /// </summary>
    private int Horizon => Math.Min(_end, _frontier + Math.Max(Window, _options.MaxSilentHops));

    private long ToTicks(TimeSpan span) => (long)Math.Min(span.TotalSeconds * _frequency, long.MaxValue / 4);

    /// <summary>Creates the probes due at <paramref name="now"/> and adds them to <paramref name="into"/>, marked sent at <paramref name="now"/>.</summary>
    public void TakeDue(long now, List<PlannedProbe> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (IsDone)
        {
            return;
        }
        var horizon = Horizon;
        for (var ttl = _options.MinHops; ttl <= horizon; ttl++)
        {
            var hop = _hops[ttl];
            if (hop.Emitted)
            {
                continue;
            }
            if (_options.Multipath)
            {
                while (hop.Created < hop.Wanted)
                {
                    into.Add(Create(ttl, _options.FlowId + hop.Created, 0, now));
                    hop.Created++;
                }
                while (hop.ConfirmCreated < hop.ConfirmWanted)
                {
                    hop.ConfirmCreated++;
                    into.Add(Create(ttl, hop.ConfirmFlow, hop.ConfirmCreated, now));
                }
                foreach (var id in hop.Retries)
                {
                    var first = _probes[id];
                    first.Superseded = true;
                    var retry = Create(ttl, first.Flow, first.Round, now);
                    _probes[retry.Id].IsRetry = true;
                    into.Add(retry);
                }
                hop.Retries.Clear();
            }
            else
            {
                while (hop.Created < _options.Count && _start + (hop.Created * _intervalTicks) <= now
                    && !(_options.FastMode && hop.Answered > 0))
                {
                    into.Add(Create(ttl, _options.FlowId, hop.Created, now));
                    hop.Created++;
                }
            }
        }
    }

    private PlannedProbe Create(int ttl, int flow, int round, long now)
    {
        var probe = new Probe { Ttl = ttl, Flow = flow, Round = round, Sent = now, State = ProbeState.Pending };
        probe.Deadline = DeadlineOf(probe);
        var id = _probes.Count;
        _probes.Add(probe);
        _hops[ttl].Probes.Add(id);
        _hops[ttl].Pending++;
        return new PlannedProbe(id, ttl, flow, probe.Deadline - probe.Sent);
    }

    /// <summary>
    /// The probe left at <paramref name="timestamp"/>: the scheduler may send later than planned (a loaded
    /// machine, a paced rate, a full probe table), and every wait counts from the real send: a probe still
    /// queued is never timed out, and a shortened wait must not take an answer in time for late.
    /// </summary>
    public void OnSent(int id, long timestamp)
    {
        var probe = _probes[id];
        if (probe.State != ProbeState.Pending || probe.OnWire)
        {
            return;
        }
        probe.OnWire = true;
        // Its wait is decided now, also when it left the moment it was planned: hops beyond may have answered
        // while it was queued, and OnAnswer shortens the waits of probes on the wire only.
        probe.Sent = Math.Max(probe.Sent, timestamp);
        var deadline = DeadlineOf(probe);
        probe.Deadline = deadline;
        if (deadline - probe.Sent < _timeoutTicks)
        {
            _retimed.Add(new RetimedProbe(id, deadline));
        }
    }

    /// <summary>An answer to probe <paramref name="id"/>; one that comes after the probe was decided is ignored.</summary>
    public void OnAnswer(int id, in TraceAnswer answer)
    {
        var probe = _probes[id];
        if (probe.State != ProbeState.Pending)
        {
            return;
        }
        probe.State = ProbeState.Answered;
        probe.Answer = answer;
        Accepted?.Invoke(id, answer);
        var hop = _hops[probe.Ttl];
        hop.Pending--;
        hop.Answered++;
        if (!double.IsNaN(answer.RttMilliseconds) && !(hop.MaxRtt >= answer.RttMilliseconds))
        {
            hop.MaxRtt = answer.RttMilliseconds;
        }
        _frontier = Math.Max(_frontier, probe.Ttl);
        if (_responders.Add(answer.Responder))
        {
            _newResponders.Add(answer.Responder);
        }
        if (answer.Status != IcmpStatus.TimeExceeded && probe.Ttl < _end)
        {
            // The destination (or a router that refused to forward) is at most this far: nothing beyond is a hop.
            _end = probe.Ttl;
            CancelWhere(p => p.Ttl > _end);
        }
        if (_options.FastMode && !_options.Multipath)
        {
            CancelWhere(p => p.Ttl == probe.Ttl);
        }
        // Hops below this one need not wait the full timeout any more.
        for (var other = 0; other < _probes.Count; other++)
        {
            var waiting = _probes[other];
            // A probe not sent yet gets its wait when it leaves (OnSent).
            if (waiting.State == ProbeState.Pending && waiting.OnWire && waiting.Ttl < probe.Ttl)
            {
                var deadline = DeadlineOf(waiting);
                if (deadline < waiting.Deadline)
                {
                    waiting.Deadline = deadline;
                    _retimed.Add(new RetimedProbe(other, deadline));
                }
            }
        }
    }

    /// <summary>The prober gave up on probe <paramref name="id"/> (its own timeout, or a failed send).</summary>
    public void OnTimedOut(int id)
    {
        var probe = _probes[id];
        if (probe.State == ProbeState.Pending)
        {
            probe.State = ProbeState.TimedOut;
            _hops[probe.Ttl].Pending--;
            RetryIfLate(id);
        }
    }

    /// <summary>
    /// Multipath sends each flow once per TTL, so one answer lost changes the graph: a branch, a link or the
    /// destination itself goes missing behind a <see cref="SilentNode"/>. A probe that timed out after a shortened
    /// wait (hops beyond it had answered, so its own answer was expected) is sent once more with its flow, as
    /// scamper's tracelb tries a probe again: on a loaded machine the lab's forwarding deferred answers past the
    /// 20 ms floor and a diamond lost links one trace in two under stress-ng. A probe that waited the full timeout
    /// (a silent router, nothing beyond it answered yet) is not retried: that would only double the wait.
    /// </summary>
    private void RetryIfLate(int id)
    {
        var probe = _probes[id];
        var hop = _hops[probe.Ttl];
        if (_options.Multipath && !probe.IsRetry && !hop.Emitted && probe.Ttl <= _end && probe.Deadline - probe.Sent < _timeoutTicks)
        {
            hop.Retries.Add(id);
        }
    }

    /// <summary>Applies deadlines up to <paramref name="now"/>, decides where the trace ends and which hops are final.</summary>
    public void Update(long now)
    {
        for (var id = 0; id < _probes.Count; id++)
        {
            var probe = _probes[id];
            if (probe.State == ProbeState.Pending && probe.OnWire && probe.Deadline + _expirySlack <= now)
            {
                probe.State = ProbeState.TimedOut;
                _hops[probe.Ttl].Pending--;
                RetryIfLate(id);
            }
        }
        EndAfterSilentRun();
        if (_options.Multipath)
        {
            GrowFlows();
        }
        Emit();
    }

    /// <summary>Hops that became final since the last call, in distance order.</summary>
    public void TakeFinishedHops(List<Hop> into) => _finished.MoveTo(into);

    /// <summary>Probes cancelled since the last call, whose prober slots the driver may release.</summary>
    public void TakeCancelled(List<int> into) => _cancelled.MoveTo(into);

    /// <summary>Probes whose deadline came forward since the last call.</summary>
    public void TakeRetimed(List<RetimedProbe> into) => _retimed.MoveTo(into);

    /// <summary>Responders seen for the first time since the last call (to look their names up early).</summary>
    public void TakeNewResponders(List<string> into) => _newResponders.MoveTo(into);

    /// <summary>Ends the trace early (Ctrl+C): cancels what is out and hands out no more hops.</summary>
    public void Stop()
    {
        CancelWhere(_ => true);
        _end = Math.Min(_end, _nextToEmit - 1);
    }

    private long DeadlineOf(Probe probe)
    {
        // The largest RTT among the hops beyond: a silent probe waits a few times that, not the full timeout.
        var beyond = double.NaN;
        for (var ttl = probe.Ttl + 1; ttl < _hops.Length; ttl++)
        {
            var rtt = _hops[ttl].MaxRtt;
            if (!double.IsNaN(rtt) && !(beyond >= rtt))
            {
                beyond = rtt;
            }
        }
        if (double.IsNaN(beyond))
        {
            return probe.Sent + _timeoutTicks;
        }
        var wait = Math.Max(_minAdaptiveTicks, (long)(NearFactor * beyond / 1000.0 * _frequency));
        return probe.Sent + Math.Min(wait, _timeoutTicks);
    }

    private void CancelWhere(Func<Probe, bool> predicate)
    {
        for (var id = 0; id < _probes.Count; id++)
        {
            var probe = _probes[id];
            if (probe.State == ProbeState.Pending && predicate(probe))
            {
                probe.State = ProbeState.Cancelled;
                _hops[probe.Ttl].Pending--;
                _cancelled.Add(id);
            }
        }
    }

    private bool IsComplete(int ttl)
    {
        var hop = _hops[ttl];
        if (hop.Pending > 0)
        {
            return false;
        }
        if (_options.Multipath)
        {
            return hop.Created >= hop.Wanted && hop.ConfirmCreated >= hop.ConfirmWanted && hop.Retries.Count == 0;
        }
        return hop.Created >= _options.Count || (_options.FastMode && hop.Answered > 0);
    }

    private void EndAfterSilentRun()
    {
        var first = _frontier + 1;
        var last = first + _options.MaxSilentHops - 1;
        if (last >= _end)
        {
            return;
        }
        for (var ttl = first; ttl <= last; ttl++)
        {
            if (!IsComplete(ttl) || _hops[ttl].Answered > 0)
            {
                return;
            }
        }
        _end = last;
        CancelWhere(p => p.Ttl > _end);
    }

    /// <summary>
    /// The MDA: for every responder r at d-1, the flows seen through r and probed at d must number at least
    /// n_k, k being the next hops they showed; and d itself must have n_k flows for the k responders it
    /// showed. A shortfall raises the flows at d and, to learn which flows pass r, at every TTL below.
    /// </summary>
    private void GrowFlows()
    {
        var last = Math.Min(_end, Horizon);
        for (var d = _options.MinHops; d <= last; d++)
        {
            var hop = _hops[d];
            if (hop.Emitted || !IsComplete(d))
            {
                continue;
            }
            var responders = new HashSet<string>(StringComparer.Ordinal);
            foreach (var id in hop.Probes)
            {
                if (_probes[id].State == ProbeState.Answered)
                {
                    responders.Add(_probes[id].Answer.Responder);
                }
            }
            var wanted = _rule.ProbesNeeded(Math.Max(1, responders.Count));
            if (d > _options.MinHops && IsComplete(d - 1))
            {
                wanted = Math.Max(wanted, FlowsForPredecessors(d));
            }
            Want(d, wanted);
            ConfirmIfBalanced(d, responders.Count);
        }
    }

    /// <summary>Repeats of one flow at a distance with several responders: a per-flow balancer answers them all alike.</summary>
    internal const int BalancerConfirmations = 10;

    /// <summary>Repeats sent at most while waiting for <see cref="BalancerConfirmations"/> of them to be answered.</summary>
    internal const int MaxConfirmationProbes = 3 * BalancerConfirmations;

    /// <summary>
    /// Once the MDA wants no more flows at <paramref name="d"/> and found several responders there, sends one
    /// flow again <see cref="BalancerConfirmations"/> times, as scamper's tracelb does: a per-flow balancer
    /// keeps the flow on its path (the same responder every time); a per-packet one moves it, and the chance
    /// that ten answered repeats all land where the first went is 2^-10 behind a two-way balancer. A lost repeat
    /// proves nothing, so the repeats go on until ten have answered (at most <see cref="MaxConfirmationProbes"/>
    /// sent): with three answered, a per-packet balancer looked per-flow one time in four (a lab run on a
    /// loaded machine, where the routers' rate limits and late answers took most repeats, read it so once).
    /// </summary>
    private void ConfirmIfBalanced(int d, int responders)
    {
        var hop = _hops[d];
        if (responders < 2 || hop.Wanted > hop.Created)
        {
            return;
        }
        if (hop.ConfirmWanted > 0)
        {
            var (repeats, _) = Repeats(hop);
            if (repeats < BalancerConfirmations && hop.ConfirmCreated >= hop.ConfirmWanted && hop.ConfirmWanted < MaxConfirmationProbes)
            {
                hop.ConfirmWanted = Math.Min(MaxConfirmationProbes, hop.ConfirmWanted + BalancerConfirmations - repeats);
            }
            return;
        }
        foreach (var id in hop.Probes)
        {
            if (_probes[id] is { State: ProbeState.Answered, Round: 0 } probe)
            {
                hop.ConfirmFlow = probe.Flow;
                hop.ConfirmWanted = BalancerConfirmations;
                return;
            }
        }
    }

    /// <summary>What the repeats of one flow showed at <paramref name="ttl"/>; null when none were sent or none answered.</summary>
    private LoadBalancing? BalancingAt(int ttl)
    {
        var hop = _hops[ttl];
        if (hop.ConfirmWanted == 0)
        {
            return null;
        }
        var (repeats, varied) = Repeats(hop);
        return repeats == 0 ? null : varied ? LoadBalancing.PerPacket : LoadBalancing.PerFlow;
    }

    /// <summary>The confirmation flow's answers after its first, and whether any came from another responder than the first.</summary>
    private (int Repeats, bool Varied) Repeats(HopState hop)
    {
        string? first = null;
        var repeats = 0;
        var varied = false;
        foreach (var id in hop.Probes)
        {
            var probe = _probes[id];
            if (probe.Flow != hop.ConfirmFlow || probe.State != ProbeState.Answered)
            {
                continue;
            }
            if (first is null)
            {
                first = probe.Answer.Responder;
                continue;
            }
            repeats++;
            varied |= probe.Answer.Responder != first;
        }
        return (repeats, varied);
    }

    private int FlowsForPredecessors(int d)
    {
        var before = ResponderByFlow(d - 1);
        var here = ResponderByFlow(d);
        var groups = new Dictionary<string, (int Flows, HashSet<string> Next)>(StringComparer.Ordinal);
        var total = 0;
        foreach (var (flow, from) in before)
        {
            if (!here.TryGetValue(flow, out var to))
            {
                continue;
            }
            total++;
            if (from is null)
            {
                continue;
            }
            if (!groups.TryGetValue(from, out var group))
            {
                group = (0, new HashSet<string>(StringComparer.Ordinal));
            }
            if (to is not null)
            {
                group.Next.Add(to);
            }
            groups[from] = (group.Flows + 1, group.Next);
        }
        var wanted = 0;
        foreach (var (flows, next) in groups.Values)
        {
            var needed = _rule.ProbesNeeded(Math.Max(1, next.Count));
            if (flows < needed)
            {
                // Flows reach r in proportion to its share so far: scale the shortfall by it.
                var extra = (int)Math.Ceiling((needed - flows) * (double)total / flows);
                wanted = Math.Max(wanted, _hops[d].Created + extra);
            }
        }
        return wanted;
    }

    /// <summary>Flow → responder (null: silent) of the decided probes at <paramref name="ttl"/>.</summary>
    private Dictionary<int, string?> ResponderByFlow(int ttl)
    {
        var map = new Dictionary<int, string?>();
        foreach (var id in _hops[ttl].Probes)
        {
            var probe = _probes[id];
            // Repeats of a flow (Round above 0) only tell the balancer's kind, not where the flow goes.
            if ((probe.State is ProbeState.Answered or ProbeState.TimedOut) && probe.Round == 0 && !probe.Superseded)
            {
                map[probe.Flow] = probe.State == ProbeState.Answered ? probe.Answer.Responder : null;
            }
        }
        return map;
    }

    private void Want(int d, int flows)
    {
        flows = Math.Min(flows, MaxFlows);
        if (flows <= _hops[d].Wanted)
        {
            return;
        }
        // Every TTL below that is still open gets the same flows, so each new flow's route is known hop by hop.
        for (var ttl = d; ttl >= _options.MinHops && !_hops[ttl].Emitted; ttl--)
        {
            _hops[ttl].Wanted = Math.Max(_hops[ttl].Wanted, flows);
        }
    }

    private void Emit()
    {
        while (_nextToEmit <= _end)
        {
            var ttl = _nextToEmit;
            if (!IsComplete(ttl))
            {
                return;
            }
            if (_options.Multipath && ttl < _end && !(IsComplete(ttl + 1) && _hops[ttl + 1].Created >= _hops[ttl + 1].Wanted))
            {
                // The next hop's links may still ask for more flows here.
                return;
            }
            if (_options.Multipath && ttl < _end && _hops[ttl].Wanted > _hops[ttl].Created)
            {
                return;
            }
            if (RateLimited(ttl) is not { } rateLimited)
            {
                return;
            }
            _finished.Add(Build(ttl, rateLimited).WithBalancing(BalancingAt(ttl)));
            _hops[ttl].Emitted = true;
            _nextToEmit++;
        }
    }

    /// <summary>
    /// Whether the hop's loss is a router limiting its errors: it lost some probes, and a hop beyond it lost
    /// none (forwarding loss before this hop would show beyond it too). Null while that cannot be told yet.
    /// </summary>
    private bool? RateLimited(int ttl)
    {
        var (sent, received) = Counts(ttl);
        if (received == 0 || received == sent)
        {
            return false;
        }
        var allComplete = true;
        for (var beyond = ttl + 1; beyond <= _end; beyond++)
        {
            if (!IsComplete(beyond))
            {
                allComplete = false;
                continue;
            }
            var (s, r) = Counts(beyond);
            if (s > 0 && r == s)
            {
                return true;
            }
        }
        return allComplete ? false : null;
    }

    private (int Sent, int Received) Counts(int ttl)
    {
        int sent = 0, received = 0;
        foreach (var id in _hops[ttl].Probes)
        {
            switch (_probes[id].State)
            {
                case ProbeState.Answered:
                    sent++;
                    received++;
                    break;
                case ProbeState.TimedOut:
                    sent++;
                    break;
            }
        }
        return (sent, received);
    }

    private Hop Build(int ttl, bool rateLimited)
    {
        var rtts = new List<double>();
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var order = new List<string>();
        var sent = 0;
        Probe? telling = null;
        foreach (var id in _hops[ttl].Probes)
        {
            var probe = _probes[id];
            if (probe.State == ProbeState.TimedOut)
            {
                sent++;
            }
            if (probe.State != ProbeState.Answered)
            {
                continue;
            }
            sent++;
            if (!double.IsNaN(probe.Answer.RttMilliseconds))
            {
                rtts.Add(probe.Answer.RttMilliseconds);
            }
            var responder = probe.Answer.Responder;
            if (seen.TryGetValue(responder, out var n))
            {
                seen[responder] = n + 1;
            }
            else
            {
                seen[responder] = 1;
                order.Add(responder);
            }
            if (telling is null || Rank(probe.Answer.Status) > Rank(telling.Answer.Status))
            {
                telling = probe;
            }
        }
        // Most seen first; ties keep the order of first sight, so a stable path reads the same every run.
        var addresses = order.OrderByDescending(a => seen[a]).ToList();
        var extensions = ExtensionsOf(ttl, addresses.Count == 0 ? null : addresses[0]) ?? IcmpExtensions.Empty;
        return new Hop(_target, _family, ttl, addresses, null, rtts, sent,
            telling?.Answer.Status ?? IcmpStatus.TimedOut,
            telling?.Answer.Code,
            telling is { Answer.ReplyTtl: >= 0 } ? telling.Answer.ReplyTtl : null,
            telling is { Answer.QuotedTtl: >= 0 } ? telling.Answer.QuotedTtl : null,
            rateLimited,
            _options.Multipath ? null : _options.FlowId,
            LinksInto(ttl))
        {
            Mpls = extensions.Mpls,
            InterfaceInfo = extensions.InterfaceInfo,
            OtherExtensions = extensions.Other,
        };
    }

    /// <summary>The extensions of the hop's main responder: from its last answer that carried any.</summary>
    private IcmpExtensions? ExtensionsOf(int ttl, string? responder)
    {
        IcmpExtensions? found = null;
        foreach (var id in _hops[ttl].Probes)
        {
            var probe = _probes[id];
            if (probe.State == ProbeState.Answered && probe.Answer.Extensions is { } extensions && probe.Answer.Responder == responder)
            {
                found = extensions;
            }
        }
        return found;
    }

    /// <summary>The destination's echo reply tells most, then a refusal, then Time Exceeded.</summary>
    private static int Rank(IcmpStatus status) => status switch
    {
        IcmpStatus.Success => 3,
        IcmpStatus.TimeExceeded => 1,
        _ => 2,
    };

    /// <summary>How a link names a silent responder (-Multipath only), as mtr and Paris traceroute draw it.</summary>
    internal const string SilentNode = "*";

    /// <summary>The probe's place in the path's graph: its responder, <see cref="SilentNode"/> for a silent flow with -Multipath, else none.</summary>
    private string? NodeOf(Probe probe) => probe.Superseded ? null : probe.State switch
    {
        ProbeState.Answered => probe.Answer.Responder,
        ProbeState.TimedOut when _options.Multipath => SilentNode,
        _ => null,
    };

    /// <summary>Pairs of responders at ttl-1 and ttl that one flow (and round) showed.</summary>
    private List<HopLink> LinksInto(int ttl)
    {
        var links = new List<HopLink>();
        if (ttl <= _options.MinHops)
        {
            return links;
        }
        var before = new Dictionary<(int, int), string>();
        foreach (var id in _hops[ttl - 1].Probes)
        {
            if (NodeOf(_probes[id]) is { } node)
            {
                before[(_probes[id].Flow, _probes[id].Round)] = node;
            }
        }
        var counts = new Dictionary<(string, string), int>();
        var order = new List<(string, string)>();
        foreach (var id in _hops[ttl].Probes)
        {
            var probe = _probes[id];
            // A silent router on one branch is still a node of the graph: without it the branch behind it vanishes.
            if (NodeOf(probe) is { } to && before.TryGetValue((probe.Flow, probe.Round), out var from)
                && !(from == SilentNode && to == SilentNode))
            {
                var key = (from, to);
                if (counts.TryGetValue(key, out var n))
                {
                    counts[key] = n + 1;
                }
                else
                {
                    counts[key] = 1;
                    order.Add(key);
                }
            }
        }
        foreach (var key in order)
        {
            links.Add(new HopLink(ttl, key.Item1, key.Item2, counts[key]));
        }
        return links;
    }
}
