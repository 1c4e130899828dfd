using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// Traces the path to one address: <see cref="TraceroutePlanner"/> decides which probes and what the answers
/// mean; the <see cref="ProbeScheduler"/> sends them; the prober matches the answers and times probes out
/// (their deadlines moved through probe handles when the planner cuts a wait short). Hops stream in
/// distance order as each becomes final.
/// </summary>
public static class Traceroute
{
    /// <summary>How long after its deadline the planner times out a probe the prober has not reported.</summary>
    private static readonly TimeSpan ExpirySlack = TimeSpan.FromMilliseconds(250);

    /// <summary>Longest a hop waits for its responder's name, counted from when the responder first answered (the lookup's start).</summary>
    private static readonly TimeSpan NameWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The flow's ICMP identifier: constant for every probe of the flow, different between flows. Per-flow
    /// balancers that hash the identifier (as a port) then keep a flow on one path, too.
    /// </summary>
    public static ushort IdentifierOf(int flow) => (ushort)(0x5000 + flow);

    /// <summary>The one's-complement sum every probe of the flow holds, so its checksum never changes (v4; v6: plus a constant pseudo-header).</summary>
    public static ushort SumOf(int flow)
    {
        // A hash of the flow id (murmur3's finaliser), so that consecutive flows differ in every bit as a
        // balancer's hash sees them; 0x0000 and 0xFFFF, the two forms of one's-complement zero, are avoided.
        var x = (uint)flow + 0x9E3779B9u;
        x ^= x >> 16;
        x *= 0x85EBCA6Bu;
        x ^= x >> 13;
        x *= 0xC2B2AE35u;
        x ^= x >> 16;
        var sum = (ushort)(x ^ (x >> 16));
        return sum is 0 or 0xFFFF ? (ushort)0x5A5A : sum;
    }

    /// <summary>
    /// Resolves <paramref name="target"/>, shares the process's socket for its family and traces. The sockets
    /// are taken before the first await, on the thread that starts the enumeration, so they belong to that
    /// thread's network namespace (a name's lookup resumes on a pool thread, which may be in another).
    /// </summary>
    public static async IAsyncEnumerable<Hop> TraceAsync(string target, TracerouteOptions? options = null, IcmpFamily? family = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        options ??= new TracerouteOptions();
        var literal = TargetResolver.TryParseLiteral(target, out var parsed) ? parsed : null;
        var families = literal is not null ? [TargetResolver.FamilyOf(literal)]
            : family is { } only ? [only] : new[] { IcmpFamily.IPv4, IcmpFamily.IPv6 };
        var leases = new List<ProberLease>();
        try
        {
            Exception? unavailable = null;
            foreach (var f in families)
            {
                try
                {
                    leases.Add(ProberPool.Acquire(f));
                }
                catch (SocketUnavailableException e) when (families.Length > 1)
                {
                    // A machine without IPv6 still traces names that resolve to IPv4.
                    unavailable = e;
                }
            }
            // A literal resolves at once (or fails as the wrong family); a name is looked up.
            var address = await TargetResolver.ResolveAsync(target, family, cancellationToken).ConfigureAwait(false);
            var lease = leases.Find(l => l.Prober.Family == TargetResolver.FamilyOf(address))
                ?? throw (unavailable ?? new SocketUnavailableException($"No {TargetResolver.FamilyOf(address)} socket is open."));
            await foreach (var hop in StreamAsync(lease.Prober, address, options, cancellationToken).ConfigureAwait(false))
            {
                yield return hop;
            }
        }
        finally
        {
            foreach (var lease in leases)
            {
                lease.Dispose();
            }
        }
    }

    /// <summary>
    /// Traces <paramref name="address"/> over <paramref name="prober"/> (on the prober's clock) and yields each
    /// hop once it and every hop below it are final. In rounds (<see cref="TracerouteOptions.Rounds"/>,
    /// <see cref="TracerouteOptions.Continuous"/>) it yields, as each round ends, a snapshot of every distance
    /// the round reached over all rounds so far: a distance's latest snapshot is its report. Network outcomes are data in the hops; only a failure of
    /// the tool (a broken socket) throws.
    /// </summary>
    public static async IAsyncEnumerable<Hop> StreamAsync(Prober prober, IPAddress address, TracerouteOptions options,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
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
        if (options.Source is { } source)
        {
            SourceAddress.Validate(source, family);
        }
        if (options.Multipath && !prober.Capabilities.SupportsParis)
        {
            // Without a held checksum every probe may take another path, and the stopping rule would count
            // paths that are not there: refuse rather than report invented load balancers.
            throw new TransportCapabilityException(nameof(TransportCapabilities.SupportsParis),
                "-Multipath needs probes whose checksum stays constant per flow, and this transport lets the platform write " +
                "the ICMP header (Windows without elevation uses iphlpapi). Run elevated for a raw socket, or trace without -Multipath.");
        }

        var clock = prober.Clock;
        var frequency = clock.TimestampFrequency;
        var target = address.ToString();
        var observer = new TraceObserver(clock);
        var expirySlack = (long)(ExpirySlack.TotalSeconds * frequency);
        ITracePlanner planner = options.InRounds
            ? new TraceRoundsPlanner(target, family, options, frequency, clock.GetTimestamp(), clock.GetUtcNow(), expirySlack,
                prober.Capabilities.HandOffLatency)
            : new TraceroutePlanner(target, family, options, frequency, clock.GetTimestamp(), expirySlack, prober.Capabilities.HandOffLatency);
        var names = ResponderLookups.For(options, clock);
        var template = new ProbeSpec
        {
            Destination = IpKey.FromAddress(address),
            PayloadSize = options.PayloadSize,
            TrafficClass = options.TrafficClass,
            Source = options.Source is null ? default : IpKey.FromAddress(options.Source),
            HasSource = options.Source is not null,
            // Routers that quote only the 8 bytes RFC 792 promises leave out the cookie.
            MatchWithoutCookie = true,
            HoldSum = true,
        };
        var sequenceBase = (ushort)Random.Shared.Next(ushort.MaxValue + 1);
        var handles = new Dictionary<int, ProbeHandle>();
        var due = new List<PlannedProbe>();
        var finished = new List<Hop>();
        var cancelled = new List<int>();
        var retimed = new List<RetimedProbe>();
        var responders = new List<string>();
        var ready = new Queue<Hop>();
        // The local stack refused a send (a prohibit or unreachable route): no probe of this trace can leave.
        var refused = false;
        var nextDistance = options.MinHops;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        await using var scheduler = new ProbeScheduler(clock, options.Rate, null, observer.Fail, stop.Token);
        try
        {
            while (true)
            {
                while (observer.Reader.TryRead(out var item))
                {
                    if (item.Handle is { } handle)
                    {
                        handles[item.Id] = handle;
                        planner.OnSent(item.Id, item.SentAt);
                    }
                    else
                    {
                        handles.Remove(item.Id);
                        refused |= Record(planner, item, family, prober, address);
                    }
                }
                var now = clock.GetTimestamp();
                planner.Update(now);

                due.Clear();
                planner.TakeDue(now, due);
                foreach (var planned in due)
                {
                    var spec = template;
                    spec.Ttl = planned.Ttl;
                    spec.Identifier = IdentifierOf(planned.Flow);
                    spec.Sum = SumOf(planned.Flow);
                    spec.Sequence = (ushort)(sequenceBase + planned.Id);
                    spec.TimeoutTicks = planned.TimeoutTicks;
                    spec.Token = planned.Id;
                    scheduler.Enqueue(prober, in spec, observer);
                }

                retimed.Clear();
                planner.TakeRetimed(retimed);
                foreach (var (id, deadline) in retimed)
                {
                    if (handles.TryGetValue(id, out var handle))
                    {
                        handle.SetDeadline(deadline);
                    }
                }
                cancelled.Clear();
                planner.TakeCancelled(cancelled);
                foreach (var id in cancelled)
                {
                    if (handles.Remove(id, out var handle))
                    {
                        handle.Cancel();
                    }
                }
                if (names is not null)
                {
                    responders.Clear();
                    planner.TakeNewResponders(responders);
                    names.Start(responders);
                }
                finished.Clear();
                planner.TakeFinishedHops(finished);
                foreach (var hop in finished)
                {
                    ready.Enqueue(hop);
                }
                while (ready.TryPeek(out var head) && (refused || names is null || names.IsSettled(head.Address)))
                {
                    ready.Dequeue();
                    nextDistance = head.Distance + 1;
                    yield return names is null ? head : names.Annotate(head);
                }
                if (refused)
                {
                    // Said where it happened, as ping says it, instead of a run of silent routers.
                    yield return new Hop(target, family, nextDistance, [], null, [], 1, IcmpStatus.SendFailed, null, null, null,
                        false, options.Multipath ? null : options.FlowId, []);
                    yield break;
                }
                if (planner.IsDone && ready.Count == 0)
                {
                    yield break;
                }

                var wake = planner.NextWake;
                if (names is not null && ready.TryPeek(out var waiting))
                {
                    wake = Math.Min(wake, names.SettledBy(waiting.Address));
                }
                await WaitAsync(observer, names, clock, wake, stop.Token).ConfigureAwait(false);
            }
        }
        finally
        {
            planner.Stop();
            foreach (var handle in handles.Values)
            {
                handle.Cancel();
            }
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Hands one outcome to the planner; true when the local stack refused the send for good.</summary>
    private static bool Record(ITracePlanner planner, in TraceItem item, IcmpFamily family, Prober prober, IPAddress address)
    {
        var result = item.Result;
        if (result.Failure is { } failure)
        {
            throw new IcmpException($"The socket failed during the trace: {failure.Message}", failure);
        }
        switch (result.Status)
        {
            case IcmpStatus.SendFailed when result.SendError == Eacces && prober.Broadcasts.Contains(address):
                throw new SocketBroadcastException($"'{address}' is a broadcast address: a trace follows the path to one host.");
            case IcmpStatus.SendFailed when !IsTransient(result.SendError):
                planner.Stop();
                return true;
            case IcmpStatus.TimedOut:
            case IcmpStatus.SendFailed:
                planner.OnTimedOut(item.Id);
                break;
            case IcmpStatus.PacketTooBig when result.Type < 0:
                // Refused by this machine against a path MTU it knew: no router answered at this distance.
                planner.OnTimedOut(item.Id);
                break;
            default:
                planner.OnAnswer(item.Id, new TraceAnswer(result.Status, result.Responder.ToAddress(family).ToString(), result.Code,
                    result.RttMilliseconds, result.Ttl, result.QuotedTtl) { Extensions = result.Extensions });
                break;
        }
        return false;
    }

    private const int Eintr = 4;
    private const int Eagain = 11;
    private const int Eacces = 13;
    private const int Enobufs = 105;

    /// <summary>A full buffer or an interrupted call: the next send may pass, so the probe counts as lost, not the route as refused.</summary>
    private static bool IsTransient(int errno) => errno is Eintr or Eagain or Enobufs;

    private static async Task WaitAsync(TraceObserver observer, ResponderLookups? names, TimeProvider clock, long wake,
        CancellationToken cancellationToken)
    {
        if (observer.Reader.TryPeek(out _))
        {
            return;
        }
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var read = observer.Reader.WaitToReadAsync(wait.Token).AsTask();
        var tasks = new List<Task> { read };
        if (wake != long.MaxValue)
        {
            var delay = TimeSpan.FromSeconds(Math.Max(0, wake - clock.GetTimestamp()) / (double)clock.TimestampFrequency);
            tasks.Add(Task.Delay(delay < ProbeScheduler.LongestWait ? delay : ProbeScheduler.LongestWait, clock, wait.Token));
        }
        if (names is not null)
        {
            tasks.Add(names.Changed);
        }
        var first = await Task.WhenAny(tasks).ConfigureAwait(false);
        await wait.CancelAsync().ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        if (first == read)
        {
            // The observer's channel ends only with the scheduler's failure (TraceObserver.Fail): this throws it.
            await read.ConfigureAwait(false);
        }
    }

    /// <summary>A probe went out (<see cref="Handle"/> set, <see cref="SentAt"/> right after the send) or finished (<see cref="Result"/>).</summary>
    private readonly record struct TraceItem(int Id, ProbeHandle? Handle, long SentAt, ProbeResult Result);

    /// <summary>Hands sends and outcomes from the scheduler's and prober's threads to the trace's one loop.</summary>
    private sealed class TraceObserver(TimeProvider clock) : IProbeObserver
    {
        private readonly Channel<TraceItem> _channel = Channel.CreateUnbounded<TraceItem>(
            new UnboundedChannelOptions { SingleReader = true, SingleWriter = false });

        public ChannelReader<TraceItem> Reader => _channel.Reader;

        /// <summary>The scheduler's failure path (a send threw): the trace's loop hears of it instead of waiting for outcomes.</summary>
        public void Fail(Exception error) => _channel.Writer.TryComplete(error);

        public void OnProbeCompleted(in ProbeResult result) => _channel.Writer.TryWrite(new TraceItem((int)result.Token, null, 0, result));

        public void OnDuplicate(in ProbeResult result)
        {
            // A duplicated answer adds nothing to a hop: its probe is already decided.
        }

        public void OnProbeSent(in ProbeHandle handle, long token) => _channel.Writer.TryWrite(new TraceItem((int)token, handle, clock.GetTimestamp(), default));
    }

    /// <summary>
    /// Lookups about responders (reverse names, origin AS numbers) started as responders appear, so they cost the
    /// trace no time of its own: a hop waits for its responder's answers at most <see cref="LookupKind{T}.Wait"/>
    /// from when the responder first answered, then goes out with what has arrived.
    /// </summary>
    private sealed class ResponderLookups
    {
        private readonly TimeProvider _clock;
        private readonly LookupKind<string?>? _names;
        private readonly LookupKind<AsnInfo?>? _origins;
        private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        private ResponderLookups(TimeProvider clock, LookupKind<string?>? names, LookupKind<AsnInfo?>? origins)
        {
            _clock = clock;
            _names = names;
            _origins = origins;
        }

        /// <summary>The lookups <paramref name="options"/> asks for; null when it asks for none.</summary>
        public static ResponderLookups? For(TracerouteOptions options, TimeProvider clock)
        {
            var names = options.ResolveNames ? new LookupKind<string?>(LookUpNameAsync, NameWait) : null;
            var origins = options.AsnResolver is { } resolver
                ? new LookupKind<AsnInfo?>(address => resolver.LookUpAsync(IPAddress.Parse(address)), resolver.Timeout)
                : null;
            return names is null && origins is null ? null : new ResponderLookups(clock, names, origins);
        }

        /// <summary>Completes when any lookup finishes.</summary>
        public Task Changed => _changed.Task;

        public void Start(List<string> addresses)
        {
            var now = _clock.GetTimestamp();
            _names?.Start(addresses, now, OnChanged);
            _origins?.Start(addresses, now, OnChanged);
        }

        /// <summary>Every answer about the address is in, known to be missing, or has been waited for long enough.</summary>
        public bool IsSettled(string? address) => _clock.GetTimestamp() >= SettledBy(address)
            || ((_names?.IsCompleted(address) ?? true) && (_origins?.IsCompleted(address) ?? true));

        /// <summary>The clock's timestamp by which the hop of <paramref name="address"/> stops waiting.</summary>
        public long SettledBy(string? address) =>
            Math.Max(_names?.SettledBy(address, _clock.TimestampFrequency) ?? 0, _origins?.SettledBy(address, _clock.TimestampFrequency) ?? 0);

        /// <summary>The hop with whatever answers have arrived.</summary>
        public Hop Annotate(Hop hop)
        {
            if (_names?.ResultOf(hop.Address) is { } name)
            {
                hop = hop.WithName(name);
            }
            if (_origins?.ResultOf(hop.Address) is { } origin)
            {
                hop = hop.WithAsn(origin);
            }
            return hop;
        }

        private void OnChanged() =>
            Interlocked.Exchange(ref _changed, new(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();

        private static async Task<string?> LookUpNameAsync(string address)
        {
            try
            {
                var entry = await Dns.GetHostEntryAsync(IPAddress.Parse(address)).ConfigureAwait(false);
                return string.IsNullOrEmpty(entry.HostName) || entry.HostName == address ? null : entry.HostName;
            }
            catch (SocketException)
            {
                // No PTR record (or no resolver): the hop simply has no name.
                return null;
            }
        }
    }

    /// <summary>One kind of lookup, one per responder address, each started once and waited for at most <see cref="Wait"/>.</summary>
    private sealed class LookupKind<T>(Func<string, Task<T>> lookUp, TimeSpan wait)
    {
        private readonly Dictionary<string, (Task<T> Lookup, long Started)> _lookups = new(StringComparer.Ordinal);

        public TimeSpan Wait { get; } = wait;

        public void Start(List<string> addresses, long now, Action changed)
        {
            foreach (var address in addresses)
            {
                if (!_lookups.ContainsKey(address))
                {
                    var lookup = lookUp(address);
                    _ = lookup.ContinueWith(_ => changed(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                    _lookups[address] = (lookup, now);
                }
            }
        }

        public bool IsCompleted(string? address) =>
            address is null || !_lookups.TryGetValue(address, out var entry) || entry.Lookup.IsCompleted;

        public long SettledBy(string? address, long frequency) =>
            address is not null && _lookups.TryGetValue(address, out var entry) ? entry.Started + (long)(Wait.TotalSeconds * frequency) : 0;

        public T? ResultOf(string? address) =>
            address is not null && _lookups.TryGetValue(address, out var entry) && entry.Lookup.IsCompletedSuccessfully
                ? entry.Lookup.Result
                : default;
    }
}
