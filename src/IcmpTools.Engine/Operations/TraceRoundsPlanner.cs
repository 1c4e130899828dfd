using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// Traces in rounds, as mtr and Trippy do: each round is one pass of a <see cref="TraceroutePlanner"/> (every
/// TTL at once, its window, adaptive waits and end rule), and a round starts <see cref="TracerouteOptions.Interval"/>
/// after the one before it started, or when it ends if it took longer, so rounds never overlap and a hop's
/// statistics take its rounds in order. When a round ends, every distance it reached is handed out as a
/// snapshot over all rounds so far (<see cref="Hop.Round"/> set): the latest snapshot of a distance is its
/// report. The first round probes as one pass does (a window of TTLs); later ones stop where it found the end. Probe ids are the round's own ids plus a base, so the driver and the prober see one id space.
///
/// Like the pass it wraps, it only decides: the driver's scheduler sends, its prober matches and times out.
/// </summary>
internal sealed class TraceRoundsPlanner : ITracePlanner
{
    private readonly string _target;
    private readonly IcmpFamily _family;
    private readonly TracerouteOptions _options;
    private readonly TracerouteOptions _passOptions;
    private readonly long _frequency;
    private readonly long _start;
    private readonly DateTimeOffset _startUtc;
    private readonly long _expirySlack;
    private readonly TimeSpan _handOffLatency;
    private readonly long _intervalTicks;
    private readonly SortedDictionary<int, Tally> _tallies = [];
    private readonly List<Hop> _finished = [];
    private readonly List<int> _cancelled = [];
    private readonly List<RetimedProbe> _retimed = [];
    private readonly List<string> _newResponders = [];
    private readonly List<Hop> _passHops = [];
    /// <summary>The current round's probes by their round id: TTL, and the answer its pass counted (null: none).</summary>
    private readonly List<(int Ttl, TraceAnswer? Answer)> _passProbes = [];
    private readonly List<PlannedProbe> _passDue = [];
    private readonly List<int> _passIds = [];
    private readonly List<RetimedProbe> _passRetimed = [];

    private TraceroutePlanner? _pass;
    private int _base;
    private long _roundStart;
    private long _nextStart;
    private int _roundsDone;
    /// <summary>The distance at which the last round reached the destination (or a router refused); null if it did not.</summary>
    private int? _knownEnd;
    private bool _stopped;

    /// <summary>What one distance has shown over the rounds.</summary>
    private sealed class Tally
    {
        public int Sent;
        public RttSummary Rtts = RttSummary.Empty;
        public readonly Dictionary<string, int> Counts = new(StringComparer.Ordinal);
        public readonly List<string> Order = [];
        public string? Responder;
        public readonly Queue<RouteChange> Changes = new();
        public int ChangesTotal;
        public IcmpStatus Status = IcmpStatus.TimedOut;
        public int? Code;
        public int? ReplyTtl;
        public int? QuotedTtl;
        public readonly Dictionary<(string From, string To), int> Links = [];
        public readonly List<(string From, string To)> LinkOrder = [];
    }

    public TraceRoundsPlanner(string target, IcmpFamily family, TracerouteOptions options, long timestampFrequency, long start,
        DateTimeOffset startUtc, long expirySlack = 0, TimeSpan handOffLatency = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        _target = target;
        _family = family;
        _options = options;
        _passOptions = options with { Rounds = 0, Continuous = false, Interval = TimeSpan.Zero };
        _frequency = timestampFrequency;
        _start = start;
        _startUtc = startUtc;
        _expirySlack = expirySlack;
        _handOffLatency = handOffLatency;
        _intervalTicks = (long)Math.Min(options.Interval.TotalSeconds * timestampFrequency, long.MaxValue / 4);
        _nextStart = start;
    }

    /// <summary>Rounds finished so far.</summary>
    public int RoundsDone => _roundsDone;

    public bool IsDone => _stopped || (!_options.Continuous && _roundsDone >= _options.Rounds);

    public long NextWake => IsDone ? long.MaxValue : _pass?.NextWake ?? _nextStart;

    public void TakeDue(long now, List<PlannedProbe> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (IsDone)
        {
            return;
        }
        if (_pass is null && now >= _nextStart)
        {
            StartRound(now);
        }
        if (_pass is null)
        {
            return;
        }
        _passDue.Clear();
        _pass.TakeDue(now, _passDue);
        foreach (var probe in _passDue)
        {
            while (_passProbes.Count <= probe.Id)
            {
                _passProbes.Add((0, null));
            }
            _passProbes[probe.Id] = (probe.Ttl, null);
            into.Add(probe with { Id = _base + probe.Id });
        }
    }

    public void OnSent(int id, long timestamp)
    {
        if (PassId(id) is { } passId)
        {
            _pass!.OnSent(passId, timestamp);
        }
    }

    public void OnAnswer(int id, in TraceAnswer answer)
    {
        if (PassId(id) is { } passId)
        {
            _pass!.OnAnswer(passId, answer);
        }
    }

    public void OnTimedOut(int id)
    {
        if (PassId(id) is { } passId)
        {
            _pass!.OnTimedOut(passId);
        }
    }

    public void Update(long now)
    {
        if (_pass is null)
        {
            return;
        }
        _pass.Update(now);
        _pass.TakeFinishedHops(_passHops);
        TakeFromPass();
        if (_pass.IsDone)
        {
            CloseRound(now);
        }
    }

    public void TakeFinishedHops(List<Hop> into) => _finished.MoveTo(into);

    public void TakeCancelled(List<int> into) => _cancelled.MoveTo(into);

    public void TakeRetimed(List<RetimedProbe> into) => _retimed.MoveTo(into);

    public void TakeNewResponders(List<string> into) => _newResponders.MoveTo(into);

    public void Stop()
    {
        if (_pass is not null)
        {
            _pass.Stop();
            TakeFromPass();
            _pass = null;
        }
        _stopped = true;
    }

    /// <summary>The round's own id of a probe of the current round; null for a probe of a round already closed.</summary>
    private int? PassId(int id) => _pass is not null && id >= _base && id - _base < _passProbes.Count ? id - _base : null;

    private void StartRound(long now)
    {
        _base += _passProbes.Count;
        _passProbes.Clear();
        _passHops.Clear();
        _roundStart = now;
        // Once a round found where the path ends, later rounds probe no further, as mtr does; a round that
        // does not reach the end there (the path grew) lets the next one look as far as MaxHops again.
        var options = _knownEnd is { } end ? _passOptions with { MaxHops = Math.Max(end, _passOptions.MinHops) } : _passOptions;
        _pass = new TraceroutePlanner(_target, _family, options, _frequency, now, _expirySlack, _handOffLatency)
        {
            Accepted = (id, answer) => _passProbes[id] = (_passProbes[id].Ttl, answer),
        };
    }

    /// <summary>Moves what the pass has for the driver into this planner's lists, its ids made global.</summary>
    private void TakeFromPass()
    {
        _passIds.Clear();
        _pass!.TakeCancelled(_passIds);
        foreach (var id in _passIds)
        {
            _cancelled.Add(_base + id);
        }
        _passRetimed.Clear();
        _pass.TakeRetimed(_passRetimed);
        foreach (var (id, deadline) in _passRetimed)
        {
            _retimed.Add(new RetimedProbe(_base + id, deadline));
        }
        _pass.TakeNewResponders(_newResponders);
    }

    private void CloseRound(long now)
    {
        _pass = null;
        _roundsDone++;
        _nextStart = Math.Max(_roundStart + _intervalTicks, now);
        var when = _startUtc + TimeSpan.FromSeconds((now - _start) / (double)_frequency);
        var reached = new List<(Hop Pass, Tally Tally)>(_passHops.Count);
        foreach (var pass in _passHops)
        {
            if (!_tallies.TryGetValue(pass.Distance, out var tally))
            {
                tally = new Tally();
                _tallies[pass.Distance] = tally;
            }
            Add(tally, pass, when);
            reached.Add((pass, tally));
        }
        for (var i = 0; i < reached.Count; i++)
        {
            var (pass, tally) = reached[i];
            _finished.Add(Snapshot(pass, tally, RateLimited(reached, i)));
        }
        _knownEnd = _passHops.Count > 0 && _passHops[^1].Status is not (IcmpStatus.TimeExceeded or IcmpStatus.TimedOut)
            ? _passHops[^1].Distance
            : null;
        _passHops.Clear();
    }

    /// <summary>Adds one round's outcome at a distance: its answers in the order they came, its responder, its links.</summary>
    private void Add(Tally tally, Hop pass, DateTimeOffset when)
    {
        tally.Sent += pass.PacketsSent;
        var round = new Dictionary<string, int>(StringComparer.Ordinal);
        string? top = null;
        foreach (var (ttl, answer) in _passProbes)
        {
            if (ttl != pass.Distance || answer is not { } a)
            {
                continue;
            }
            if (!double.IsNaN(a.RttMilliseconds))
            {
                tally.Rtts = tally.Rtts.Add(a.RttMilliseconds);
            }
            if (!tally.Counts.TryGetValue(a.Responder, out var n))
            {
                tally.Order.Add(a.Responder);
            }
            tally.Counts[a.Responder] = n + 1;
            round[a.Responder] = round.GetValueOrDefault(a.Responder) + 1;
            if (top is null || round[a.Responder] > round[top])
            {
                top = a.Responder;
            }
        }
        if (top is not null)
        {
            if (tally.Responder is { } before && before != top)
            {
                tally.ChangesTotal++;
                tally.Changes.Enqueue(new RouteChange(_roundsDone, when, before, top));
                if (tally.Changes.Count > RouteChangeList.Kept)
                {
                    tally.Changes.Dequeue();
                }
            }
            tally.Responder = top;
            // The latest answer tells what the hop is now (a router that started refusing shows it).
            tally.Status = pass.Status;
            tally.Code = pass.Code;
            tally.ReplyTtl = pass.ReplyTtl;
            tally.QuotedTtl = pass.QuotedTtl;
        }
        foreach (var link in pass.Links)
        {
            var key = (link.From, link.To);
            if (!tally.Links.TryGetValue(key, out var flows))
            {
                tally.LinkOrder.Add(key);
            }
            tally.Links[key] = flows + link.Flows;
        }
    }

    /// <summary>
    /// The one-pass rule over all rounds: a hop that lost some probes while a hop beyond it in this round lost
    /// none of its own limits its errors; forwarding loss would show beyond it too.
    /// </summary>
    private static bool RateLimited(List<(Hop Pass, Tally Tally)> reached, int index)
    {
        var tally = reached[index].Tally;
        var received = tally.Rtts.Count;
        if (received == 0 || received >= tally.Sent)
        {
            return false;
        }
        for (var i = index + 1; i < reached.Count; i++)
        {
            var beyond = reached[i].Tally;
            if (beyond.Sent > 0 && beyond.Rtts.Count >= beyond.Sent)
            {
                return true;
            }
        }
        return false;
    }

    private Hop Snapshot(Hop pass, Tally tally, bool rateLimited)
    {
        var total = tally.Counts.Values.Sum();
        // Most seen first; ties keep the order of first sight, as one pass orders them.
        var order = tally.Order.OrderByDescending(a => tally.Counts[a]).ToList();
        var responders = new HopResponderList([.. order.Select(a => new HopResponder(a, tally.Counts[a], (double)tally.Counts[a] / total))]);
        var links = tally.LinkOrder.Select(k => new HopLink(pass.Distance, k.From, k.To, tally.Links[k])).ToList();
        var hop = new Hop(_target, _family, pass.Distance, order, null, [.. pass.Rtts], tally.Sent, tally.Status, tally.Code,
            tally.ReplyTtl, tally.QuotedTtl, rateLimited, pass.FlowId, links);
        return hop.WithRounds(new HopRounds(_roundsDone, responders, new RouteChangeList([.. tally.Changes], tally.ChangesTotal)), tally.Rtts);
    }
}
