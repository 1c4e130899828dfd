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
/// Where the path drops large probes silently (a PMTU black hole), it searches: the RFC 1191 plateaus at once, then
/// up to 16 sizes at a time between the largest answered and the smallest not, each round cut short once one of its
/// probes is answered (the others then have several round trips left, not the whole timeout).
/// </summary>
/// <remarks>
/// The prober must send with DontFragment (a <see cref="ProberKey"/> with DontFragment): without it the kernel
/// fragments large probes and every size "reaches" the target. A lost probe in a black-hole search reads as "too
/// big": the result can then be low by the gap to the next size tried; the MTU a router names is exact.
/// </remarks>
public static class PathMtu
{
    /// <summary>RFC 1191's plateau table, with the common tunnel and PPPoE sizes of today's paths.</summary>
    private static readonly int[] Plateaus = [9000, 4352, 2002, 1500, 1492, 1480, 1476, 1460, 1454, 1440, 1420, 1400, 1380, 1360, 1340, 1320, 1300, 1280, 1006, 576];
    private const int SearchWidth = 16;
    private const int MaxSteps = 64;
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
        await using (var scheduler = new ProbeScheduler(prober.Clock, 0, null, cancellationToken))
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
        private long _next;
        private double _maxRtt;
        private bool _answered;

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
                    else if (outcome.Status != IcmpStatus.Success)
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
                        if (outcome.Mtu < candidate && outcome.Mtu == good)
                        {
                            // Named, and already answered at that size (IPv6's 1280 is the floor probe's size).
                            return (IcmpStatus.Success, good, PathMtuMethod.Reported);
                        }
                        if (outcome.Mtu < candidate && outcome.Mtu > good)
                        {
                            candidate = outcome.Mtu;
                            method = PathMtuMethod.Reported;
                            continue;
                        }
                        // An MTU no smaller than the probe, or under what already passed: nothing to jump to.
                        break;
                    case IcmpStatus.TimedOut or IcmpStatus.SendFailed:
                        // Dropped in silence (a PMTU black hole), or lost: the search finds out.
                        break;
                    default:
                        // Unreachable, time exceeded, parameter problem: the target cannot be reached at any size.
                        return (outcome.Status, null, null);
                }
                break;
            }
            return await SearchAsync(floor, good, candidate, cancellationToken).ConfigureAwait(false);
        }

        private static IcmpStatus Unanswered(in ProbeResult outcome) =>
            outcome.Status == IcmpStatus.Success ? IcmpStatus.TimedOut : outcome.Status;

        /// <summary>The black-hole search: sizes in [floor, bad) at once, until the largest answered and the smallest not are adjacent.</summary>
        private async Task<(IcmpStatus, int?, PathMtuMethod?)> SearchAsync(int floor, int good, int bad, CancellationToken cancellationToken)
        {
            var sizes = Plateaus.Where(p => p < bad && p > Math.Max(good, floor)).ToList();
            if (good == 0)
            {
                sizes.Add(floor);
            }
            var reported = 0;
            while (sizes.Count > 0)
            {
                var outcomes = await ProbeRoundAsync(sizes, cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < sizes.Count; i++)
                {
                    var outcome = outcomes[i];
                    if (outcome.Status == IcmpStatus.Success)
                    {
                        good = Math.Max(good, sizes[i]);
                        continue;
                    }
                    if (outcome.Mtu > 0)
                    {
                        Report(in outcome);
                        reported = outcome.Mtu;
                    }
                    bad = Math.Min(bad, sizes[i]);
                }
                if (good == 0)
                {
                    return (Unanswered(outcomes[^1]), null, null);
                }
                // A size answered above one that was not (a lost probe) is the better witness.
                if (bad <= good)
                {
                    bad = good + 1;
                }
                sizes = Between(good, bad);
                if (reported > good && reported < bad && !sizes.Contains(reported))
                {
                    // A router named the MTU of a link beyond the black hole's: try it exactly.
                    sizes.Add(reported);
                }
            }
            return (IcmpStatus.Success, good, good == reported ? PathMtuMethod.Reported : PathMtuMethod.Search);
        }

        /// <summary>Up to <see cref="SearchWidth"/> sizes spread evenly strictly between good and bad.</summary>
        private static List<int> Between(int good, int bad)
        {
            var gap = bad - good - 1;
            if (gap <= 0)
            {
                return [];
            }
            var count = Math.Min(SearchWidth, gap);
            var sizes = new List<int>(count);
            for (var i = 1; i <= count; i++)
            {
                var size = good + (int)((long)i * (gap + 1) / (count + 1));
                if (size > good && size < bad && (sizes.Count == 0 || sizes[^1] != size))
                {
                    sizes.Add(size);
                }
            }
            return sizes;
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
            var cut = false;
            while (open > 0)
            {
                var result = await ReadAsync(scheduler, cancellationToken).ConfigureAwait(false);
                var index = (int)(result.Token - first);
                if (index < 0 || index >= outcomes.Length)
                {
                    continue;
                }
                outcomes[index] = result;
                open--;
                if (result.Status == IcmpStatus.Success)
                {
                    _answered = true;
                    if (double.IsFinite(result.RttMilliseconds))
                    {
                        _maxRtt = Math.Max(_maxRtt, result.RttMilliseconds);
                    }
                    if (!cut)
                    {
                        // The path answers: a size still unanswered after several more round trips was dropped.
                        cut = true;
                        // From the answer's arrival, not from when this loop got to it.
                        var deadline = result.EventTimestamp + Ticks.From(Cut, prober.Clock);
                        lock (_gate)
                        {
                            for (var token = first; token < first + sizes.Count; token++)
                            {
                                if (_handles.TryGetValue(token, out var handle))
                                {
                                    handle.SetDeadline(deadline);
                                }
                            }
                        }
                    }
                }
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

        private async Task<ProbeResult> ReadAsync(ProbeScheduler scheduler, CancellationToken cancellationToken)
        {
            if (_results.Reader.TryRead(out var ready))
            {
                return ready;
            }
            var read = _results.Reader.ReadAsync(cancellationToken).AsTask();
            if (await Task.WhenAny(read, scheduler.Completion).ConfigureAwait(false) != read)
            {
                // The scheduler ends only by failing (a send threw): report that rather than wait forever.
                await scheduler.Completion.ConfigureAwait(false);
                throw new Errors.IcmpException("The probe scheduler stopped during the path MTU discovery.");
            }
            var result = await read.ConfigureAwait(false);
            if (result.Failure is { } failure)
            {
                throw new Errors.SocketUnavailableException($"The {_family} ICMP socket failed: {failure.Message}", failure);
            }
            return result;
        }

        public void OnProbeSent(in ProbeHandle handle, long token)
        {
            lock (_gate)
            {
                if (_sizes.ContainsKey(token))
                {
                    _handles[token] = handle;
                }
            }
        }

        public void OnProbeCompleted(in ProbeResult result) => _results.Writer.TryWrite(result);

        public void OnDuplicate(in ProbeResult result)
        {
        }
    }
}
