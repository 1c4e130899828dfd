using System.Net;
using System.Runtime.CompilerServices;
using System.Threading.Channels;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Operations;

/// <summary>Pings one address: a stream of replies as they arrive, or the host's summary at the end.</summary>
public static class Ping
{
    /// <summary>Sequence numbers start at 1, as iputils ping numbers its probes.</summary>
    private const int FirstSequence = 1;

    private const int Eacces = 13;

    /// <summary>
    /// Sends the probes on schedule and yields each probe's outcome (reply, ICMP error or timeout) the moment
    /// it is known. With <see cref="PingOptions.Continuous"/> it runs until cancelled. A failure of the socket
    /// ends the stream with its exception.
    /// </summary>
    public static IAsyncEnumerable<Reply> StreamAsync(Prober prober, IPAddress address, PingOptions options,
        CancellationToken cancellationToken = default) =>
        StreamAsync(prober, address, options, null, cancellationToken);

    /// <summary>Pings and summarises: the host's statistics once every probe has an outcome.</summary>
    public static async Task<Host> PingAsync(Prober prober, IPAddress address, string? name, PingOptions options,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Broadcast)
        {
            throw new ArgumentException("A broadcast ping yields one reply per answering host, not one host: use StreamAsync.", nameof(options));
        }
        var tally = new HostTally();
        try
        {
            await foreach (var _ in StreamAsync(prober, address, options, tally, cancellationToken).ConfigureAwait(false))
            {
            }
        }
        catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested && e is not PingStoppedException)
        {
            // Ctrl+C: the caller may still report what was sent, as ping prints its statistics.
            throw new PingStoppedException(tally.Build(address.ToString(), name, TargetResolver.FamilyOf(address), prober.Kind == SocketKind.Raw), e);
        }
        return tally.Build(address.ToString(), name, TargetResolver.FamilyOf(address), prober.Kind == SocketKind.Raw);
    }

    /// <summary>
    /// Resolves <paramref name="target"/>, opens (or shares) the process's socket and pings. The sockets are
    /// taken before the first await, on the caller's thread, so they belong to the caller's network namespace.
    /// </summary>
    public static async Task<Host> PingAsync(string target, PingOptions? options = null, IcmpFamily? family = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new PingOptions();
        var literal = TargetResolver.TryParseLiteral(target, out var parsed) ? parsed : null;
        var families = literal is not null ? [TargetResolver.FamilyOf(literal)]
            : family is { } only ? [only] : new[] { IcmpFamily.IPv4, IcmpFamily.IPv6 };
        var leases = new List<ProberLease>();
        Exception? unavailable = null;
        try
        {
            foreach (var f in families)
            {
                try
                {
                    leases.Add(ProberPool.Acquire(new ProberKey(f, SocketKind.Raw, options.DontFragment)));
                }
                catch (SocketUnavailableException e) when (families.Length > 1)
                {
                    // A machine without IPv6 still pings names that resolve to IPv4.
                    unavailable = e;
                }
            }
            var address = literal ?? await TargetResolver.ResolveAsync(target, family, cancellationToken).ConfigureAwait(false);
            var lease = leases.Find(l => l.Prober.Family == TargetResolver.FamilyOf(address))
                ?? throw (unavailable ?? new SocketUnavailableException($"No {TargetResolver.FamilyOf(address)} socket is open."));
            return await PingAsync(lease.Prober, address, literal is null ? target : null, options, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            foreach (var lease in leases)
            {
                lease.Dispose();
            }
        }
    }

    private static async IAsyncEnumerable<Reply> StreamAsync(Prober prober, IPAddress address, PingOptions options,
        HostTally? tally, [EnumeratorCancellation] CancellationToken cancellationToken)
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

        var destination = address.ToString();
        var run = new PingRun(prober, address, options, tally);
        await using var scheduler = new ProbeScheduler(prober.Clock, 0, run, run.Fail, cancellationToken);
        run.Scheduler = scheduler;
        try
        {
            for (long finished = 0; finished < run.Count;)
            {
                var (result, final) = await run.ReadAsync(cancellationToken).ConfigureAwait(false);
                if (result.Failure is { } failure)
                {
                    throw new SocketUnavailableException($"The {family} ICMP socket failed: {failure.Message}", failure);
                }
                if (final)
                {
                    finished++;
                    if (options.Broadcast && result.Status == IcmpStatus.Success)
                    {
                        // The end of a broadcast probe that was answered: each answer was its own reply already.
                        continue;
                    }
                }
                if (result is { Status: IcmpStatus.SendFailed, SendError: Eacces } && !options.Broadcast && prober.Broadcasts.Contains(address))
                {
                    // The kernel refuses a broadcast destination to a socket without SO_BROADCAST; it says EACCES for
                    // a prohibit route too, which stays a SendFailed result like any other refused send.
                    throw new SocketBroadcastException(
                        $"'{destination}' is a broadcast address: ping it with -Broadcast to collect every host's reply.");
                }
                tally?.Add(in result, result.Token, family);
                yield return ReplyFactory.Create(in result, destination, family, prober.Kind == SocketKind.Raw);
            }
        }
        finally
        {
            run.Stop();
        }
    }

    /// <summary>
    /// Plans one ping: probe i goes out one interval after probe i-1 did (not after its answer, as iputils
    /// ping does). At most <see cref="Window"/> outcomes wait for the consumer, so a slow pipeline slows
    /// the pinging instead of piling up results; probes in flight are bounded by the prober's table, whose
    /// back-pressure holds the sender when it is full (-IntervalSeconds 0 to an address that never answers).
    /// </summary>
    private sealed class PingRun : IProbeObserver, IProbeSource
    {
        private const int Window = 1024;

        private readonly Prober _prober;
        private readonly ProbeSpec _template;
        private readonly long _intervalTicks;
        private readonly HostTally? _tally;
        /// <summary>Outcomes in arrival order; Final is false only for a broadcast probe's answers before its end.</summary>
        private readonly Channel<(ProbeResult Result, bool Final)> _results = Channel.CreateUnbounded<(ProbeResult, bool)>(
            new UnboundedChannelOptions { SingleReader = true });
        private long _next;
        private long _firstSent;
        private long _consumed;
        private long _completed;
        private int _queued;
        private volatile bool _stopped;

        public PingRun(Prober prober, IPAddress address, PingOptions options, HostTally? tally)
        {
            _prober = prober;
            _tally = tally;
            Count = options.Continuous ? long.MaxValue : options.Count;
            _intervalTicks = Ticks.From(options.Interval, prober.Clock);
            _template = new ProbeSpec
            {
                Destination = IpKey.FromAddress(address),
                Identifier = (ushort)(options.Identifier ?? Random.Shared.Next(1, ushort.MaxValue + 1)),
                PayloadSize = options.PayloadSize,
                ExplicitPayload = options.Payload?.ToArray(),
                Ttl = options.Ttl,
                TrafficClass = options.TrafficClass,
                Source = options.Source is null ? default : IpKey.FromAddress(options.Source),
                HasSource = options.Source is not null,
                TimeoutTicks = Ticks.From(options.Timeout, prober.Clock),
                // A ping sends few probes: index them, so routers that quote only 8 bytes are still heard.
                MatchWithoutCookie = true,
                // A broadcast probe is answered by every host on the segment: collect them until the timeout.
                Mode = options.Broadcast ? ProbeMode.Collect : ProbeMode.FirstAnswer,
                AnyResponder = options.Broadcast,
            };
        }

        public long Count { get; }

        public ProbeScheduler? Scheduler { get; set; }

        public bool Admit(ProbeScheduler scheduler, int budget)
        {
            if (_stopped || _next >= Count)
            {
                return false;
            }
            if (Volatile.Read(ref _queued) != 0 || Interlocked.Read(ref _completed) - Interlocked.Read(ref _consumed) >= Window)
            {
                // The previous probe has not left yet, or the consumer is behind: its progress signals us.
                return true;
            }
            var probe = _template;
            probe.Sequence = (ushort)(FirstSequence + _next);
            probe.Token = _next;
            var due = _next == 0 ? 0 : Interlocked.Read(ref _firstSent) + (_next * _intervalTicks);
            Volatile.Write(ref _queued, 1);
            _next++;
            _tally?.MarkSent();
            scheduler.Enqueue(_prober, in probe, this, due);
            return true;
        }

        public void OnProbeSent(in ProbeHandle handle, long token)
        {
            if (token == 0)
            {
                Interlocked.Exchange(ref _firstSent, _prober.Clock.GetTimestamp());
            }
            Volatile.Write(ref _queued, 0);
            Scheduler?.Signal();
        }

        public void OnProbeCompleted(in ProbeResult result)
        {
            Interlocked.Increment(ref _completed);
            _results.Writer.TryWrite((result, true));
        }

        public void OnAnswer(in ProbeResult result)
        {
            Interlocked.Increment(ref _completed);
            _results.Writer.TryWrite((result, false));
        }

        public void OnDuplicate(in ProbeResult result) => _tally?.AddDuplicate(in result);

        public async ValueTask<(ProbeResult Result, bool Final)> ReadAsync(CancellationToken cancellationToken)
        {
            var result = await _results.Reader.ReadOrThrowAsync(cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref _consumed);
            Scheduler?.Signal();
            return result;
        }

        /// <summary>The scheduler's failure path (the send threw): the consumer hears of it instead of waiting.</summary>
        public void Fail(Exception error) => _results.Writer.TryComplete(error);

        public void Stop() => _stopped = true;
    }
}

/// <summary>Converts spans of time to a clock's ticks without overflow: a timeout of years is a far deadline, not a past one.</summary>
internal static class Ticks
{
    public static long From(TimeSpan span, TimeProvider clock)
    {
        var ticks = span.TotalSeconds * clock.TimestampFrequency;
        return ticks >= long.MaxValue / 4 ? long.MaxValue / 4 : Math.Max(0, (long)ticks);
    }
}
