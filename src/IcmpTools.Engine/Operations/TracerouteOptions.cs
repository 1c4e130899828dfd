using System.Net;

namespace IcmpTools.Engine.Operations;

/// <summary>How to trace a path. Defaults: traceroute's (3 probes a hop, 30 hops), icmplib's 2 s timeout.</summary>
public sealed record TracerouteOptions
{
    public const int MaxFlowId = 0x7FFF;
    public const int MaxRounds = 1_000_000;

    /// <summary>Probes per hop (per flow per hop with <see cref="Multipath"/>, which sends one).</summary>
    public int Count { get; init; } = 3;
    /// <summary>
    /// Time between the rounds of probes to one hop; 0 sends every round at once. With <see cref="Rounds"/> or
    /// <see cref="Continuous"/>: the least time from one round's start to the next (a round that takes longer is
    /// followed at once).
    /// </summary>
    public TimeSpan Interval { get; init; } = TimeSpan.Zero;
    /// <summary>Longest wait for a probe's answer; a silent hop waits less once hops beyond it answered.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);
    public int MinHops { get; init; } = 1;
    public int MaxHops { get; init; } = 30;
    /// <summary>The trace ends after this many silent hops past the last one that answered.</summary>
    public int MaxSilentHops { get; init; } = 5;
    /// <summary>Stop probing a hop after its first answer (icmplib's fast mode).</summary>
    public bool FastMode { get; init; }
    /// <summary>Enumerate every path through per-flow load balancers (the Multipath Detection Algorithm).</summary>
    public bool Multipath { get; init; }
    /// <summary>
    /// With <see cref="Multipath"/>: the confidence of the stopping rule, from 0.5 to 0.99999. At the default 0.95 (six flows
    /// to rule out a second next hop) a two-way balancer still hides its second branch in one trace of 32; 0.999 takes
    /// 11 flows (1 in 1,000), 0.99999 takes 18. Paris traceroute and scamper's tracelb offer the same choice.
    /// </summary>
    public double MultipathConfidence { get; init; } = MultipathStoppingRule.DefaultConfidence;
    /// <summary>The flow to trace (identifier and checksum held constant); with <see cref="Multipath"/>, the first of the flows used.</summary>
    public int FlowId { get; init; }
    /// <summary>ICMP payload bytes per probe (the first 8 carry the probe cookie, the next 2 hold the checksum).</summary>
    public int PayloadSize { get; init; } = 32;
    public int TrafficClass { get; init; }
    public IPAddress? Source { get; init; }
    /// <summary>
    /// Look up the responders' names (reverse DNS) in the background; a hop waits for its responder's name at most one
    /// second from when the responder first answered (not <see cref="Timeout"/>, which bounds the wait for an answer
    /// to a probe), then goes out without it. The help of -ResolveNames says the same.
    /// </summary>
    public bool ResolveNames { get; init; }
    /// <summary>
    /// Look up the responders' origin AS numbers in the background with this resolver (null: no lookups); a hop
    /// waits for its responder's at most the resolver's timeout from when the responder first answered.
    /// </summary>
    public Lookups.AsnResolver? AsnResolver { get; init; }
    /// <summary>Probes per second over the whole operation; 0 sends as fast as the window allows.</summary>
    public int Rate { get; init; }

    /// <summary>
    /// Trace in this many rounds (mtr's report cycles): every hop probed each round (<see cref="Count"/> probes),
    /// rounds at least <see cref="Interval"/> apart, statistics accumulated over the rounds; 0: one pass.
    /// </summary>
    public int Rounds { get; init; }
    /// <summary>Trace in rounds until cancelled (mtr, Trippy).</summary>
    public bool Continuous { get; init; }
    /// <summary>The trace runs in rounds (<see cref="Rounds"/> or <see cref="Continuous"/>).</summary>
    public bool InRounds => Rounds > 0 || Continuous;

    /// <summary>Probes the least payload must hold: the cookie and the two bytes that keep the checksum constant.</summary>
    public const int MinPayloadSize = 10;
    public const double MinMultipathConfidence = 0.5;
    /// <summary>Above this the stopping rule asks for more flows than a hop's few dozen can give (MaxFlows).</summary>
    public const double MaxMultipathConfidence = 0.99999;

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Count, 1, nameof(Count));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Count, 1000, nameof(Count));
        PingOptions.ValidateCommon(Interval, Timeout, PayloadSize, 1, TrafficClass);
        if (Timeout > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "The timeout must be at most an hour.");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(PayloadSize, MinPayloadSize, nameof(PayloadSize));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinHops, 1, nameof(MinHops));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxHops, 255, nameof(MaxHops));
        if (MinHops > MaxHops)
        {
            throw new ArgumentOutOfRangeException(nameof(MinHops), MinHops, $"MinHops ({MinHops}) is above MaxHops ({MaxHops}).");
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxSilentHops, 1, nameof(MaxSilentHops));
        ArgumentOutOfRangeException.ThrowIfNegative(FlowId, nameof(FlowId));
        if (!(MultipathConfidence >= MinMultipathConfidence && MultipathConfidence <= MaxMultipathConfidence))
        {
            throw new ArgumentOutOfRangeException(nameof(MultipathConfidence), MultipathConfidence,
                $"The multipath confidence must be from {MinMultipathConfidence} to {MaxMultipathConfidence}.");
        }
        ArgumentOutOfRangeException.ThrowIfGreaterThan(FlowId, MaxFlowId, nameof(FlowId));
        ArgumentOutOfRangeException.ThrowIfNegative(Rate, nameof(Rate));
        ArgumentOutOfRangeException.ThrowIfNegative(Rounds, nameof(Rounds));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Rounds, MaxRounds, nameof(Rounds));
        if (Continuous && Rounds > 0)
        {
            throw new ArgumentOutOfRangeException(nameof(Rounds), Rounds, "Rounds and Continuous exclude each other: Continuous runs until cancelled.");
        }
        if (InRounds && Multipath)
        {
            throw new ArgumentOutOfRangeException(nameof(Multipath), Multipath, "Multipath traces one pass; it cannot run in rounds.");
        }
    }
}
