using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Operations;

/// <summary>
/// Tracing in rounds (-Rounds, -Continuous) on virtual time: each round a pass over every hop, statistics
/// kept over the rounds, responders' shares, route changes; and the whole path over the fake transport.
/// </summary>
public sealed class TraceRoundsPlannerTests
{
    private const string Target = "198.18.4.2";
    private static readonly DateTimeOffset Epoch = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    private static TraceRoundsPlanner Planner(TracerouteOptions options) =>
        new(Target, IcmpFamily.IPv4, options, PlannerDriver.Frequency, 0, Epoch);

    private static TracerouteOptions Rounds(int rounds) =>
        new() { Rounds = rounds, Count = 1, Interval = TimeSpan.FromSeconds(1) };

    /// <summary>Three routers and the target; <paramref name="router2"/> says who answers at TTL 2 in a round (null: silence) and after how long.</summary>
    private static Func<int, int, int, FakeAnswer?> Path(Func<int, (string Address, double Rtt)?>? router2 = null)
    {
        var round2 = 0;
        return (ttl, _, _) =>
        {
            switch (ttl)
            {
                case 1:
                    return new FakeAnswer(IcmpStatus.TimeExceeded, "198.18.1.1", 0, 0.1);
                case 2:
                    round2++;
                    return (router2 ?? (_ => ("198.18.2.2", 0.2)))(round2) is { } r
                        ? new FakeAnswer(IcmpStatus.TimeExceeded, r.Address, 0, r.Rtt)
                        : null;
                case 3:
                    return new FakeAnswer(IcmpStatus.TimeExceeded, "198.18.3.2", 0, 0.3);
                default:
                    return new FakeAnswer(IcmpStatus.Success, Target, 0, 0.4);
            }
        };
    }

    private static Hop Last(List<EmittedHop> hops, int distance) => hops.Last(h => h.Hop.Distance == distance).Hop;

    [Fact]
    public void EveryHopIsProbedEachRoundAndRoundsStartOneIntervalApart()
    {
        var (hops, sent, _) = PlannerDriver.Run(Planner(Rounds(10)), Path());

        // The first round probes as a pass does (a window of TTLs beyond the last answer); once it found the
        // target at 4, one probe per hop per round, as mtr sends.
        Assert.True(sent.Count(p => p.AtMilliseconds < 1000) >= TraceroutePlanner.Window);
        Assert.Equal(9 * 4, sent.Count(p => p.AtMilliseconds >= 1000));
        Assert.All(Enumerable.Range(1, 4), d => Assert.Equal(10, sent.Count(p => p.Ttl == d)));
        // All TTLs of a round at once, rounds one second apart.
        Assert.Equal(Enumerable.Range(0, 10).Select(r => r * 1000.0), sent.Where(p => p.Ttl == 1).Select(p => p.AtMilliseconds));
        // A snapshot of every distance after each round, the rounds in order.
        Assert.Equal(40, hops.Count);
        Assert.Equal(Enumerable.Range(1, 10).SelectMany(r => Enumerable.Repeat(r, 4)), hops.Select(h => h.Hop.Round!.Value));
        var report = Enumerable.Range(1, 4).Select(d => Last(hops, d)).ToList();
        Assert.All(report, h => Assert.Equal(10, h.PacketsSent));
        Assert.All(report, h => Assert.Equal(10, h.PacketsReceived));
        Assert.All(report, h => Assert.Equal(0, h.PacketLoss));
        Assert.All(report, h => Assert.Empty(h.RouteChanges));
        Assert.Equal(["198.18.1.1", "198.18.2.2", "198.18.3.2", Target], report.Select(h => h.Address));
        Assert.Equal(IcmpStatus.Success, report[3].Status);
        Assert.Equal(new HopResponder("198.18.2.2", 10, 1.0), Assert.Single(report[1].Responders));
    }

    [Fact]
    public void StatisticsCoverEveryRoundAndRttsHoldTheLastRounds()
    {
        double[] rtts = [1, 3, 2, 6];
        var (hops, _, _) = PlannerDriver.Run(Planner(Rounds(4)), Path(round => ("198.18.2.2", rtts[round - 1])));

        var hop = Last(hops, 2);
        Assert.Equal(4, hop.Round);
        Assert.Equal(1, hop.MinRtt!.Value, 9);
        Assert.Equal(6, hop.MaxRtt!.Value, 9);
        Assert.Equal(3, hop.AvgRtt!.Value, 9);
        Assert.Equal(6, hop.LastRtt!.Value, 9);
        // Population standard deviation of 1, 3, 2, 6: sqrt((4 + 0 + 1 + 9) / 4).
        Assert.Equal(Math.Sqrt(3.5), hop.StdDev!.Value, 9);
        // Mean absolute difference of consecutive RTTs: (2 + 1 + 4) / 3.
        Assert.Equal(7.0 / 3, hop.Jitter!.Value, 9);
        Assert.Equal([6.0], hop.Rtts);
        // The snapshot after round 2 covered rounds 1 and 2 only.
        var second = hops.Single(h => h.Hop.Distance == 2 && h.Hop.Round == 2).Hop;
        Assert.Equal(2, second.AvgRtt!.Value, 9);
        Assert.Equal(3, second.LastRtt!.Value, 9);
    }

    [Fact]
    public void LossAccumulatesOverRoundsAndAHopThatOnlyDropsItsOwnErrorsIsRateLimited()
    {
        var (hops, _, _) = PlannerDriver.Run(Planner(Rounds(4)), Path(round => round % 2 == 0 ? null : ("198.18.2.2", 0.2)));

        var hop = Last(hops, 2);
        Assert.Equal(4, hop.PacketsSent);
        Assert.Equal(2, hop.PacketsReceived);
        Assert.Equal(0.5, hop.PacketLoss, 9);
        Assert.True(hop.IsRateLimited);
        // The lost round leaves the hop what it was: a router that answered, with its last RTT.
        Assert.Equal(IcmpStatus.TimeExceeded, hop.Status);
        Assert.Equal("198.18.2.2", hop.Address);
        Assert.Empty(hop.Rtts);
        Assert.Equal(0, Last(hops, 3).PacketLoss);
    }

    [Fact]
    public void AResponderChangeBetweenRoundsIsRecordedWithItsRoundTimeAndBothResponders()
    {
        var (hops, _, _) = PlannerDriver.Run(Planner(Rounds(5)), Path(round => (round <= 2 ? "198.18.2.2" : "198.18.22.2", 0.2)));

        var hop = Last(hops, 2);
        var change = Assert.Single(hop.RouteChanges);
        Assert.Equal(3, change.Round);
        Assert.Equal("198.18.2.2", change.From);
        Assert.Equal("198.18.22.2", change.To);
        // Round 3 started at 2 s and ended when its last answer (0.4 ms) came.
        Assert.Equal(Epoch + TimeSpan.FromMilliseconds(2000.4), change.Time);
        Assert.Equal(1, hop.RouteChanges.Total);
        Assert.Equal("3:198.18.2.2>198.18.22.2", hop.RouteChanges.ToString());
        // Shares: 3 of 5 answers from the new responder, which comes first.
        Assert.Equal(["198.18.22.2", "198.18.2.2"], hop.Addresses);
        Assert.Equal([("198.18.22.2", 3, 0.6), ("198.18.2.2", 2, 0.4)], hop.Responders.Select(r => (r.Address, r.Count, r.Share)));
        Assert.Equal("198.18.22.2=3 198.18.2.2=2", hop.Responders.ToString());
        Assert.Empty(Last(hops, 1).RouteChanges);
    }

    [Fact]
    public void ASilentRoundInBetweenIsNotARouteChange()
    {
        var (hops, _, _) = PlannerDriver.Run(Planner(Rounds(3)), Path(round => round == 2 ? null : ("198.18.2.2", 0.2)));

        Assert.Empty(Last(hops, 2).RouteChanges);
    }

    [Fact]
    public void ARoundLongerThanTheIntervalIsFollowedWhenItEndsNeverOverlapped()
    {
        // Hop 2 and everything beyond it is silent: each round waits out the 2 s timeout, longer than the 1 s interval.
        var (hops, sent, _) = PlannerDriver.Run(Planner(Rounds(3) with { MaxSilentHops = 2 }),
            (ttl, _, _) => ttl == 1 ? new FakeAnswer(IcmpStatus.TimeExceeded, "198.18.1.1", 0, 0.1) : null);

        var starts = sent.Where(p => p.Ttl == 1).Select(p => p.AtMilliseconds).ToList();
        Assert.Equal(3, starts.Count);
        Assert.All(starts.Zip(starts.Skip(1)), pair => Assert.True(pair.Second - pair.First >= 2000, $"{pair.First} then {pair.Second}"));
        Assert.Equal([1, 2, 3], hops.Where(h => h.Hop.Round == 3).Select(h => h.Hop.Distance));
        Assert.Equal(1, Last(hops, 2).PacketLoss);
        Assert.Null(Last(hops, 2).Address);
    }

    [Fact]
    public void ContinuousRunsUntilStoppedAndSendsNothingAfter()
    {
        var planner = Planner(new TracerouteOptions { Continuous = true, Count = 1, Interval = TimeSpan.FromSeconds(1) });

        var (hops, sent, end) = PlannerDriver.Run(planner, Path(), stopAfter: h => h.Count >= 4 * 25);

        Assert.True(planner.IsDone);
        Assert.Equal(25, planner.RoundsDone);
        Assert.Equal(24 * 4, sent.Count(p => p.AtMilliseconds >= 1000));
        Assert.Equal(25, Last(hops, 4).PacketsSent);
        var due = new List<PlannedProbe>();
        planner.TakeDue(PlannerDriver.Frequency * 3600, due);
        Assert.Empty(due);
        Assert.Equal(long.MaxValue, planner.NextWake);
        Assert.True(end < 25_000, $"ended at {end} ms");
    }

    [Fact]
    public void APerPacketBalancerShowsBothRespondersWithTheirShares()
    {
        var network = new FakeRouterNetwork(Target, 0.4,
            new FakeHop(new FakeRouter("198.18.1.1", 0.1)),
            new FakeHop(new FakeRouter("198.18.2.2", 0.2), new FakeRouter("198.18.22.2", 0.2)) { PerPacket = true });

        var (hops, _, _) = PlannerDriver.Run(Planner(Rounds(40)), (ttl, flow, _) => network.Answer(ttl, flow));

        var hop = Last(hops, 2);
        Assert.Equal(2, hop.Responders.Count);
        Assert.Equal(40, hop.Responders.Sum(r => r.Count));
        Assert.Equal(1.0, hop.Responders.Sum(r => r.Share), 9);
        Assert.All(hop.Responders, r => Assert.InRange(r.Share, 0.2, 0.8));
        Assert.True(hop.RouteChanges.Count > 0);
    }

    [Theory]
    [InlineData(true, 3, false)]
    [InlineData(false, 3, true)]
    [InlineData(false, -1, false)]
    public void RoundsRefuseWhatCannotRunInRounds(bool continuous, int rounds, bool multipath)
    {
        var options = new TracerouteOptions { Continuous = continuous, Rounds = rounds, Multipath = multipath };

        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
    }

    [Fact]
    public async Task RoundsOverTheFakeTransportStreamASnapshotPerHopPerRound()
    {
        using var fake = new FakeTransport(null, IcmpFamily.IPv4);
        fake.Network = echo => echo.Ttl <= 2
            ? [FakeTransport.Error(echo, TimeSpan.FromMilliseconds(echo.Ttl), IPAddress.Parse($"198.51.100.{echo.Ttl}"), 11, 0)]
            : [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(3))];
        using var prober = new Prober(fake, fake.Clock);
        var start = fake.Clock.GetTimestamp();
        var hops = new List<Hop>();

        async Task Run()
        {
            await foreach (var hop in Traceroute.StreamAsync(prober, IPAddress.Parse("192.0.2.9"), Rounds(3)))
            {
                hops.Add(hop);
            }
        }

        await VirtualTime.Run(fake.Clock, Run());

        Assert.Equal([1, 2, 3, 1, 2, 3, 1, 2, 3], hops.Select(h => h.Distance));
        Assert.Equal([1, 1, 1, 2, 2, 2, 3, 3, 3], hops.Select(h => h.Round!.Value));
        // Every hop probed once a round. (What the answers add up to is the planner tests' business above: here the
        // prober's threads race a clock moved in steps, and a machine busy enough can let a 20 ms wait run out.)
        Assert.All(hops.Skip(6), h => Assert.Equal(3, h.PacketsSent));
        Assert.All(hops.Skip(6), h => Assert.InRange(h.PacketsReceived, 1, 3));
        Assert.Equal(9, fake.Sent.Count(e => e.Ttl <= 3));
        Assert.Equal(3.0, Math.Round(hops[^1].AvgRtt!.Value));
        Assert.Equal("192.0.2.9", hops[^1].Address);
        // Rounds at least one virtual second apart (when exactly is the planner tests' business: the clock here
        // moves in steps that the engine's threads may trail on a busy machine).
        Assert.True(fake.Clock.GetElapsedTime(start) >= TimeSpan.FromSeconds(2));
        Assert.Equal(0, prober.InFlight);
    }
}

/// <summary>-Multipath telling a per-packet balancer from a per-flow one by repeating a flow, on virtual time.</summary>
public sealed class BalancerKindTests
{
    private static FakeRouterNetwork Diamond(bool perPacket) =>
        new("198.18.30.1", 0.4,
            new FakeHop(new FakeRouter("198.18.1.1", 0.1)),
            new FakeHop(new FakeRouter("198.18.2.2", 0.2), new FakeRouter("198.18.5.2", 0.2)) { PerPacket = perPacket },
            new FakeHop(new FakeRouter("198.18.3.2", 0.3)));

    private static List<Hop> Trace(FakeRouterNetwork network)
    {
        var planner = new TraceroutePlanner(network.Destination, IcmpFamily.IPv4, new TracerouteOptions { Multipath = true },
            PlannerDriver.Frequency, 0);
        var (hops, _, _) = PlannerDriver.Run(planner, (ttl, flow, _) => network.Answer(ttl, flow));
        Assert.True(planner.IsDone);
        return [.. hops.Select(h => h.Hop)];
    }

    [Theory]
    [InlineData(false, LoadBalancing.PerFlow)]
    [InlineData(true, LoadBalancing.PerPacket)]
    public void RepeatingOneFlowTellsTheBalancersKindAtTheHopWhereThePathsSplit(bool perPacket, LoadBalancing kind)
    {
        var hops = Trace(Diamond(perPacket));

        Assert.Equal([1, 2, 3, 4], hops.Select(h => h.Distance));
        Assert.Equal(["198.18.2.2", "198.18.5.2"], hops[1].Addresses.Order());
        Assert.Equal(kind, hops[1].Balancing);
        // One responder: nothing to tell, and nothing repeated.
        Assert.All(new[] { hops[0], hops[2], hops[3] }, h => Assert.Null(h.Balancing));
    }

    [Fact]
    public void ThePerFlowDiamondStillLinksEachBranchAndTheRepeatsCostTenProbes()
    {
        var network = Diamond(perPacket: false);
        var hops = Trace(network);

        Assert.Equal(["198.18.1.1>198.18.2.2", "198.18.1.1>198.18.5.2"], hops[1].Links.Select(l => l.ToString()).Order());
        Assert.Equal(network.SentByTtl[1] + TraceroutePlanner.BalancerConfirmations, network.SentByTtl[2]);
    }

    [Fact]
    public void LostRepeatsAreMadeUpSoARateLimitedPerPacketBalancerIsNotReadAsPerFlow()
    {
        // Both branch routers send only 4 in 10 of their Time Exceeded messages (an ICMP rate limit, or answers a
        // loaded machine delivers late): of ten repeats about four answer, and four alike read per-packet as
        // per-flow one time in eight. The repeats go on until ten have answered. Twenty seeded networks: before,
        // 4 of them read per-flow. (Where the MDA itself saw only one branch, 2 of 20 at this loss, there is no
        // balancer to tell: those runs are left out.)
        var runs = Enumerable.Range(1, 20).Select(seed =>
        {
            var network = new FakeRouterNetwork("198.18.31.1", 0.4,
                new FakeHop(new FakeRouter("198.18.1.1", 0.1)),
                new FakeHop(new FakeRouter("198.18.2.2", 0.2) { ErrorShare = 0.4 }, new FakeRouter("198.18.5.2", 0.2) { ErrorShare = 0.4 })
                {
                    PerPacket = true,
                },
                new FakeHop(new FakeRouter("198.18.3.2", 0.3)))
            { Seed = seed };
            var hops = Trace(network);
            // Each flow and repeat is sent at most twice (a late one once more, RetriesALateFlowOnce).
            Assert.True(network.SentByTtl[2] <= 2 * (network.SentByTtl[1] + TraceroutePlanner.MaxConfirmationProbes));
            return (Branches: hops[1].Addresses.Count, hops[1].Balancing);
        }).ToList();

        var told = runs.Where(r => r.Branches == 2).ToList();
        Assert.True(told.Count >= 15, $"only {told.Count} of 20 runs found both branches");
        Assert.All(told, r => Assert.Equal(LoadBalancing.PerPacket, r.Balancing));
    }

    [Fact]
    public void AFlowWhoseAnswerIsLateAfterAShortenedWaitIsSentOnceMoreSoTheGraphHasNoFalseSilentNode()
    {
        // The first probe of every flow at TTL 3 gets no answer (deferred past the adaptive wait on a loaded machine),
        // its second try does. Before, every flow at 3 was a silent node: links r2>* and *>target.
        var network = Diamond(perPacket: false);
        var tries = new Dictionary<int, int>();
        var planner = new TraceroutePlanner(network.Destination, IcmpFamily.IPv4, new TracerouteOptions { Multipath = true },
            PlannerDriver.Frequency, 0);

        var (emitted, sent, _) = PlannerDriver.Run(planner, (ttl, flow, _) =>
        {
            if (ttl == 3 && (tries[flow] = tries.GetValueOrDefault(flow) + 1) == 1)
            {
                return null;
            }
            return network.Answer(ttl, flow);
        });

        var hops = emitted.Select(h => h.Hop).ToList();
        Assert.Equal([1, 2, 3, 4], hops.Select(h => h.Distance));
        Assert.Equal(["198.18.3.2"], hops[2].Addresses);
        Assert.DoesNotContain(hops.SelectMany(h => h.Links), l => l.ToString().Contains(TraceroutePlanner.SilentNode, StringComparison.Ordinal));
        Assert.Equal(["198.18.2.2>198.18.3.2", "198.18.5.2>198.18.3.2"], hops[2].Links.Select(l => l.ToString()).Order());
        // Once more, not again and again: two tries per flow at TTL 3.
        Assert.All(tries.Values, n => Assert.Equal(2, n));
    }

    [Fact]
    public void AOnePassTraceSendsNoRepeats()
    {
        var network = Diamond(perPacket: true);
        var planner = new TraceroutePlanner(network.Destination, IcmpFamily.IPv4, new TracerouteOptions { Count = 3 }, PlannerDriver.Frequency, 0);

        var (hops, sent, _) = PlannerDriver.Run(planner, (ttl, flow, _) => network.Answer(ttl, flow));

        Assert.All(hops, h => Assert.Null(h.Hop.Balancing));
        Assert.Equal(3, sent.Count(p => p.Ttl == 2));
    }
}
