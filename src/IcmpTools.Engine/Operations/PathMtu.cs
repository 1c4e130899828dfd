using System.Net;
using System.Threading.Channels;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;

namespace IcmpTools.Engine.Operations;

/// <summary>Options of a path MTU discovery (<c>Test-IcmpEcho -MtuSize</c>).</summary>
public sealed record PathMtuOptions
{
    /// <summary>How long a probe is waited for while nothing of its round has answered yet.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);
    /// <summary>Largest IP packet to try; 0: the MTU this machine holds for the route (the interface's, or one learned earlier).</summary>
    public int MaxMtu { get; init; }
    public int Ttl { get; init; } = 64;
    public int TrafficClass { get; init; }
    public IPAddress? Source { get; init; }

    internal void Validate()
    {
        PingOptions.ValidateCommon(TimeSpan.Zero, Timeout, 0, Ttl, TrafficClass);
        ArgumentOutOfRangeException.ThrowIfNegative(MaxMtu);
    }
}

/// <summary>
/// Path MTU discovery, as a planner on the engine's scheduler and prober: the largest echo request that reaches the
/// target with DontFragment. It starts at the route's MTU and jumps straight to any MTU a Fragmentation Needed /
/// Packet Too Big names (RFC 1191, RFC 8201), so an honest path costs one probe per narrower link and one answer.
/// Where the path drops large probes silently (a PMTU black hole), it searches one size at a time: the next size above
/// a plateau it has just seen pass (a path's MTU is most often one of RFC 1191's plateaus, so that one probe settles
/// it), else the middle plateau between the largest size answered and the smallest not, else the middle byte. An
/// answered probe costs one round trip; a silent one is given up several round trips after it left, not after the
/// whole timeout.
/// </summary>
/// <remarks>
/// <para>The prober must send with DontFragment (a <see cref="ProberKey"/> with DontFragment): without it the kernel
/// fragments large probes and every size "reaches" the target.</para>
/// <para>The rule for loss: a size is too big when a router says so (its Fragmentation Needed / Packet Too Big, or the
/// MTU it names for every larger size) or when it goes unanswered. One silence may steer the search, but the MTU
/// returned is always a size that was answered, and the size one byte above it was refused by a router or went
/// unanswered twice, in rounds of its own half a second apart at least. A single lost probe therefore never lowers the
/// result (it costs probes); only the same size lost twice can, a chance of p² at a loss rate p.</para>
/// </remarks>
public static class PathMtu
{
    /// <summary>RFC 1191's plateau table, with the common tunnel and PPPoE sizes of today's paths.</summary>
    private static readonly int[] Plateaus = [9000, 4352, 2002, 1500, 1492, 1480, 1476, 1460, 1454, 1440, 1420, 1400, 1380, 1360, 1340, 1320, 1300, 1280, 1006, 576];
    private const int MaxSteps = 64;
    /// <summary>A bound no honest search comes near (about 2 log2 of the sizes, with a loss or two): a misbehaving path cannot probe forever.</summary>
    private const int MaxSearchRounds = 256;
    /// <summary>Silences of one size (in rounds of their own) before the search takes it as too big: one may be a lost probe.</summary>
    private const int Confirmations = 2;
    private static readonly TimeSpan MinCut = TimeSpan.FromMilliseconds(500);
    private const int CutRoundTrips = 8;

    /// <summary>The smallest packet every IPv4 path carries (RFC 791's reassembly minimum) and IPv6's minimum link MTU.</summary>
    public static int FloorOf(IcmpFamily family) => family == IcmpFamily.IPv4 ? 576 : 1280;

    /// <summary>IP and ICMP headers of an echo request: what separates a packet's size from its payload.</summary>
    public static int HeadersOf(IcmpFamily family) => (family == IcmpFamily.IPv4 ? 20 : 40) + 8;

    public static async Task<PathMtuResult> DiscoverAsync(Prober prober, IPAddress address, PathMtuOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prober);
        ArgumentNullException.ThrowIfNull(address);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var family = TargetResolver.FamilyOf(address);
        if (family != prober.Family)
        {
            throw new ArgumentException($"The address {address} is {family}, but the prober sends {prober.Family}.", nameof(address));
        }
        var started = prober.Clock.GetTimestamp();
        var run = new Run(prober, address, options);
        await using (var scheduler = new ProbeScheduler(prober.Clock, 0, null, run.Fail, cancellationToken))
        {
            run.Scheduler = scheduler;
            var (status, mtu, method) = await run.DiscoverAsync(cancellationToken).ConfigureAwait(false);
            scheduler.Complete();
            return new PathMtuResult(address.ToString(), family, status, mtu, method, run.Probes, run.Reports, prober.Clock.GetElapsedTime(started).TotalMilliseconds)
            {
                IsPrivileged = prober.Kind == Sockets.SocketKind.Raw,
            };
        }
    }

    /// <summary>One discovery's state; the driver (DiscoverAsync) runs on one task, the observer's calls come from the prober.</summary>
    private sealed class Run(Prober prober, IPAddress address, PathMtuOptions options) : IProbeObserver
    {
        private readonly IcmpFamily _family = prober.Family;
        private readonly IpKey _destination = IpKey.FromAddress(address);
        private readonly ushort _identifier = (ushort)Random.Shared.Next(1, ushort.MaxValue + 1);
        private readonly Channel<ProbeResult> _results = Channel.CreateUnbounded<ProbeResult>(new UnboundedChannelOptions { SingleReader = true });
        private readonly Dictionary<long, ProbeHandle> _handles = [];
        private readonly object _gate = new();
        private readonly Dictionary<long, int> _sizes = [];
        /// <summary>This round's cut once an answer came (see <see cref="CutRound"/>); long.MaxValue before. Under <see cref="_gate"/>.</summary>
        private long _cutDeadline = long.MaxValue;
        private long _next;
        private double _maxRtt;
        private bool _answered;
        /// <summary>Sizes found too big: by a router's word (counted as <see cref="Confirmations"/>), or how many times each went unanswered.</summary>
        private readonly Dictionary<int, int> _tooBig = [];

        public ProbeScheduler? Scheduler { get; set; }

        /// <summary>How long a probe is worth waiting for once the path has answered: several of its slowest round trips.</summary>
        private TimeSpan Cut => TimeSpan.FromMilliseconds(Math.Max(MinCut.TotalMilliseconds, CutRoundTrips * _maxRtt));

        public int Probes => (int)_next;

        public List<PathMtuReport> Reports { get; } = [];

        public async Task<(IcmpStatus Status, int? Mtu, PathMtuMethod? Method)> DiscoverAsync(CancellationToken cancellationToken)
        {
            var floor = FloorOf(_family);
            var ceiling = PingOptions.MaxPayloadSize + HeadersOf(_family);
            var known = options.MaxMtu > 0 ? options.MaxMtu : prober.KnownPathMtu(_destination);
            var candidate = Math.Clamp(known > 0 ? known : 1500, floor, ceiling);
            var method = PathMtuMethod.Route;
            var good = 0;
            var reported = 0;
            // Jumps: one probe at a time, each at the MTU the last answer named. The first goes with a probe of the
            // floor's size, which says at once whether the target answers at all and how far away it is, so a black
            // hole costs a few round trips, not a timeout.
            for (var step = 0; step < MaxSteps; step++)
            {
                List<int> sizes = step == 0 && candidate > floor ? [candidate, floor] : [candidate];
                var outcomes = await ProbeRoundAsync(sizes, cancellationToken).ConfigureAwait(false);
                var outcome = outcomes[0];
                if (sizes.Count == 2)
                {
                    if (outcomes[1].Status == IcmpStatus.Success)
                    {
                        good = floor;
                    }
                    else if (outcome.Status is IcmpStatus.TimedOut or IcmpStatus.SendFailed)
                    {
                        // Not even the smallest size came back: the target does not answer, whatever the size.
                        return (Unanswered(outcomes[1]), null, null);
                    }
                }
                switch (outcome.Status)
                {
                    case IcmpStatus.Success:
                        return (IcmpStatus.Success, candidate, method);
                    case IcmpStatus.PacketTooBig or IcmpStatus.DestinationUnreachable when outcome.Mtu > 0:
                        Report(in outcome);
                        Refuse(candidate, outcome.Mtu, good);
                        if (outcome.Mtu < candidate && outcome.Mtu == good)
                        {
                            // Named, and already answered at that size (IPv6's 1280 is the floor probe's size).
                            return (IcmpStatus.Success, good, PathMtuMethod.Reported);
                        }
                        if (outcome.Mtu < candidate && outcome.Mtu > good)
                        {
                            candidate = outcome.Mtu;
                            reported = candidate;
                            method = PathMtuMethod.Reported;
                            continue;
                        }
                        // An MTU no smaller than the probe, or under what already passed: nothing to jump to.
                        break;
                    case IcmpStatus.TimedOut or IcmpStatus.SendFailed:
                        // Dropped in silence (a PMTU black hole), or lost: the search finds out.
                        _tooBig[candidate] = _tooBig.GetValueOrDefault(candidate) + 1;
                        break;
                    default:
                        // Unreachable, time exceeded, parameter problem: the target cannot be reached at any size.
                        return (outcome.Status, null, null);
                }
                break;
            }
            return await SearchAsync(floor, good, reported, cancellationToken).ConfigureAwait(false);
        }

        private static IcmpStatus Unanswered(in ProbeResult outcome) =>
            outcome.Status == IcmpStatus.Success ? IcmpStatus.TimedOut : outcome.Status;

        /// <summary>
        /// The black-hole search, one size a round, from the largest size answered (<paramref name="good"/>, 0 when not
        /// even the floor was) and the silences and refusals <see cref="_tooBig"/> holds so far.
        /// </summary>
        private async Task<(IcmpStatus, int?, PathMtuMethod?)> SearchAsync(int floor, int good, int reported, CancellationToken cancellationToken)
        {
            if (good == 0)
            {
                var outcome = (await ProbeRoundAsync([floor], cancellationToken).ConfigureAwait(false))[0];
                if (outcome.Status != IcmpStatus.Success)
                {
                    return (Unanswered(outcome), null, null);
                }
                good = floor;
            }
            // Each round answers a size (good rises), refuses or silences one (the bound falls, or its count rises):
            // the loop ends, and the bound keeps it short of the sizes an ICMP echo can have.
            for (var round = 0; round < MaxSearchRounds; round++)
            {
                var upper = SmallestTooBig(good);
                if (upper == good + 1 && _tooBig[upper] >= Confirmations)
                {
                    return (IcmpStatus.Success, good, good == reported ? PathMtuMethod.Reported : PathMtuMethod.Search);
                }
                var size = NextSize(floor, good, upper, reported);
                var outcome = (await ProbeRoundAsync([size], cancellationToken).ConfigureAwait(false))[0];
                if (outcome.Status == IcmpStatus.Success)
                {
                    good = Math.Max(good, size);
                    continue;
                }
                if (outcome.Status is IcmpStatus.PacketTooBig or IcmpStatus.DestinationUnreachable && outcome.Mtu > 0)
                {
                    Report(in outcome);
                    if (outcome.Mtu > good && outcome.Mtu < size)
                    {
                        reported = outcome.Mtu;
                    }
                    Refuse(size, outcome.Mtu, good);
                    continue;
                }
                _tooBig[size] = _tooBig.GetValueOrDefault(size) + 1;
            }
            throw new Errors.IcmpException($"The path MTU search for {address} did not settle in {MaxSearchRounds} rounds.");
        }

        /// <summary>A router's word: this size is too big, and so is every size above the MTU it names (when that is news).</summary>
        private void Refuse(int size, int mtu, int good)
        {
            _tooBig[size] = Confirmations;
            if (mtu > good && mtu < size)
            {
                _tooBig[mtu + 1] = Confirmations;
            }
        }

        /// <summary>The smallest size above <paramref name="good"/> that was refused or went unanswered (the route's MTU at worst).</summary>
        private int SmallestTooBig(int good)
        {
            var upper = int.MaxValue;
            foreach (var size in _tooBig.Keys)
            {
                if (size > good && size < upper)
                {
                    upper = size;
                }
            }
            return upper;
        }

        /// <summary>
        /// The size worth a probe next, strictly above <paramref name="good"/> and at most <paramref name="upper"/>: the
        /// MTU a router named, when its probe went unanswered once; the bound again, when it is the next byte and silent
        /// once; the next byte above a plateau that passed; the middle plateau between; the middle byte.
        /// </summary>
        private int NextSize(int floor, int good, int upper, int reported)
        {
            if (reported > good && reported <= upper && _tooBig.GetValueOrDefault(reported) < Confirmations)
            {
                return reported;
            }
            if (upper == good + 1)
            {
                return upper;
            }
            if ((good == floor || good == reported || Array.IndexOf(Plateaus, good) >= 0) && !_tooBig.ContainsKey(good + 1))
            {
                return good + 1;
            }
            var between = Plateaus.Where(p => p > good && p < upper).ToArray();
            return between.Length > 0 ? between[between.Length / 2] : good + ((upper - good) / 2);
        }

        private void Report(in ProbeResult outcome)
        {
            var from = outcome.Type >= 0 ? outcome.Responder.ToAddress(_family).ToString() : null;
            var report = new PathMtuReport(from, outcome.Mtu);
            if (Reports.Count == 0 || Reports[^1] != report)
            {
                Reports.Add(report);
            }
        }

        /// <summary>Sends one probe per size at once and returns their outcomes in the same order.</summary>
        private async Task<ProbeResult[]> ProbeRoundAsync(List<int> sizes, CancellationToken cancellationToken)
        {
            var scheduler = Scheduler!;
            var first = _next;
            // Once the path has answered, a size unanswered after several round trips was dropped: no need to wait
            // the whole timeout for it (rounds whose every size is too big would otherwise cost one each).
            var timeout = Ticks.From(_answered && Cut < options.Timeout ? Cut : options.Timeout, prober.Clock);
            lock (_gate)
            {
                _cutDeadline = long.MaxValue;
                for (var i = 0; i < sizes.Count; i++)
                {
                    _sizes[first + i] = sizes[i];
                }
            }
            for (var i = 0; i < sizes.Count; i++)
            {
                var spec = new ProbeSpec
                {
                    Destination = _destination,
                    Identifier = _identifier,
                    Sequence = (ushort)(1 + _next),
                    PayloadSize = sizes[i] - HeadersOf(_family),
                    Ttl = options.Ttl,
                    TrafficClass = options.TrafficClass,
                    Source = options.Source is null ? default : IpKey.FromAddress(options.Source),
                    HasSource = options.Source is not null,
                    TimeoutTicks = timeout,
                    Token = _next,
                    MatchWithoutCookie = true,
                };
                _next++;
                scheduler.Enqueue(prober, in spec, this);
            }
            var outcomes = new ProbeResult[sizes.Count];
            var open = sizes.Count;
            while (open > 0)
            {
                var result = await ReadAsync(cancellationToken).ConfigureAwait(false);
                var index = (int)(result.Token - first);
                if (index < 0 || index >= outcomes.Length)
                {
                    continue;
                }
                outcomes[index] = result;
                open--;
            }
            lock (_gate)
            {
                for (var token = first; token < first + sizes.Count; token++)
                {
                    _handles.Remove(token);
                    _sizes.Remove(token);
                }
            }
            return outcomes;
        }

        private async Task<ProbeResult> ReadAsync(CancellationToken cancellationToken)
        {
            var result = await _results.Reader.ReadOrThrowAsync(cancellationToken).ConfigureAwait(false);
            if (result.Failure is { } failure)
            {
                throw new Errors.SocketUnavailableException($"The {_family} ICMP socket failed: {failure.Message}", failure);
            }
            return result;
        }

        /// <summary>The scheduler's failure path (a send threw): the discovery hears of it instead of waiting for its round.</summary>
        public void Fail(Exception error) => _results.Writer.TryComplete(error);

        public void OnProbeSent(in ProbeHandle handle, long token)
        {
            lock (_gate)
            {
                if (_sizes.ContainsKey(token))
                {
                    _handles[token] = handle;
                    if (_cutDeadline != long.MaxValue)
                    {
                        // Left after the round's first answer: the cut counts from its own send.
                        handle.SetDeadline(Math.Max(_cutDeadline, prober.Clock.GetTimestamp() + Ticks.From(Cut, prober.Clock)));
                    }
                }
            }
        }

        public void OnProbeCompleted(in ProbeResult result)
        {
            if (result.Status == IcmpStatus.Success)
            {
                CutRound(in result);
            }
            _results.Writer.TryWrite(result);
        }

        /// <summary>
        /// The path answers: a size of this round still unanswered several round trips after that answer arrived was
        /// dropped, so its wait is cut to that (rounds whose every size is too big would otherwise cost a timeout
        /// each). Done here, on the thread that delivers the answer, not when the discovery's loop gets to it: the
        /// loop's continuation could run after the other sizes' full deadlines (PathMtuTests' virtual clock moved on
        /// to them in that gap now and then: ABlackHoleIsSearchedToTheExactSizeInAFewShortRounds(1433) read 8.9 s).
        /// </summary>
        private void CutRound(in ProbeResult result)
        {
            lock (_gate)
            {
                if (!_sizes.ContainsKey(result.Token))
                {
                    return;
                }
                _answered = true;
                if (double.IsFinite(result.RttMilliseconds))
                {
                    _maxRtt = Math.Max(_maxRtt, result.RttMilliseconds);
                }
                if (_cutDeadline != long.MaxValue)
                {
                    return;
                }
                // From the answer's arrival, not from when anything got to it.
                _cutDeadline = result.EventTimestamp + Ticks.From(Cut, prober.Clock);
                foreach (var (token, handle) in _handles)
                {
                    if (_sizes.ContainsKey(token))
                    {
                        handle.SetDeadline(_cutDeadline);
                    }
                }
            }
        }

        public void OnDuplicate(in ProbeResult result)
        {
        }
    }
}
