using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Operations;

/// <summary>
/// The traceroute planner on virtual time: a fake router network answers each probe after its RTT, and
/// time moves only when the test moves it, so no assertion depends on the machine's speed.
/// </summary>
public sealed class TraceroutePlannerTests
{
    /// <summary>Virtual timestamps in microseconds.</summary>
    private const long Frequency = PlannerDriver.Frequency;

    private sealed record Run(List<EmittedHop> Hops, double EndMilliseconds, int ProbesSent)
    {
        public Hop this[int distance] => Hops.Single(h => h.Hop.Distance == distance).Hop;
    }

    /// <summary>Drives a planner against the network until it is done (or 10 virtual minutes pass).</summary>
    private static Run Trace(FakeRouterNetwork network, TracerouteOptions options)
    {
        var planner = new TraceroutePlanner(network.Destination, IcmpFamily.IPv4, options, Frequency, 0);
        var (hops, sent, end) = PlannerDriver.Run(planner, (ttl, flow, _) => network.Answer(ttl, flow), limit: TimeSpan.FromMinutes(10));
        Assert.True(planner.IsDone, "the trace never ended");
        return new Run(hops, end, sent.Count);
    }

    private static FakeRouterNetwork ThreeRouters(FakeRouter? r2 = null, string target = "198.18.4.2") =>
        new(target, 0.4,
            new FakeHop(new FakeRouter("198.18.1.1", 0.1)),
            new FakeHop(r2 ?? new FakeRouter("198.18.2.2", 0.2)),
            new FakeHop(new FakeRouter("198.18.3.2", 0.3)));

    private static readonly TracerouteOptions Defaults = new();

    [Fact]
    public void AnAnsweringPathGivesEveryHopInOrderAndStopsAtTheDestination()
    {
        var run = Trace(ThreeRouters(), Defaults);

        Assert.Equal([1, 2, 3, 4], run.Hops.Select(h => h.Hop.Distance));
        Assert.Equal(["198.18.1.1", "198.18.2.2", "198.18.3.2", "198.18.4.2"], run.Hops.Select(h => h.Hop.Address));
        Assert.Equal([IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.Success],
            run.Hops.Select(h => h.Hop.Status));
        Assert.All(run.Hops, h => Assert.Equal(3, h.Hop.PacketsSent));
        Assert.All(run.Hops, h => Assert.Equal(3, h.Hop.PacketsReceived));
        Assert.All(run.Hops, h => Assert.False(h.Hop.IsRateLimited));
        // All TTLs at once: the trace takes the path's RTT, not hops x anything.
        Assert.True(run.EndMilliseconds <= 1, $"ended at {run.EndMilliseconds} ms");
        Assert.Equal(0.4, run[4].AvgRtt!.Value, 9);
        Assert.Equal(0, run[4].Code);
        Assert.Equal(60, run[4].ReplyTtl);
    }

    [Fact]
    public void ASilentMiddleRouterIsASilentHopAndCostsOnlyTheAdaptiveWait()
    {
        var run = Trace(ThreeRouters(new FakeRouter("198.18.2.2", 0.2) { Silent = true }), Defaults);

        Assert.Equal([1, 2, 3, 4], run.Hops.Select(h => h.Hop.Distance));
        var silent = run[2];
        Assert.Null(silent.Address);
        Assert.Empty(silent.Addresses);
        Assert.Equal(1, silent.PacketLoss);
        Assert.Equal(IcmpStatus.TimedOut, silent.Status);
        Assert.Null(silent.AvgRtt);
        Assert.Null(silent.Code);
        Assert.False(silent.IsRateLimited);
        Assert.Equal("198.18.3.2", run[3].Address);
        // Hops beyond answered in 0.4 ms, so the silent one waits the 20 ms floor, not the 2 s timeout.
        Assert.InRange(run.EndMilliseconds, TraceroutePlanner.MinAdaptiveWait.TotalMilliseconds,
            TraceroutePlanner.MinAdaptiveWait.TotalMilliseconds + 1);
    }

    [Fact]
    public void HopsStreamInDistanceOrderAsSoonAsTheyAreFinal()
    {
        var network = new FakeRouterNetwork("198.18.13.7", 0.4,
            new FakeHop(new FakeRouter("198.18.1.1", 0.1)))
        { DestinationSilent = true };

        var run = Trace(network, Defaults with { Timeout = TimeSpan.FromSeconds(1) });

        // The first hop comes out at its RTT, long before the silent ones behind it time out.
        Assert.Equal(1, run.Hops[0].Hop.Distance);
        Assert.True(run.Hops[0].AtMilliseconds < 1, $"hop 1 came out at {run.Hops[0].AtMilliseconds} ms");
        Assert.Equal(Enumerable.Range(1, run.Hops.Count), run.Hops.Select(h => h.Hop.Distance));
    }

    [Fact]
    public void ABlackholedTargetEndsAfterTheSilentRunWithinOneTimeout()
    {
        var network = new FakeRouterNetwork("198.18.13.7", 0.4,
            new FakeHop(new FakeRouter("198.18.1.1", 0.1)))
        { DestinationSilent = true };

        var run = Trace(network, Defaults with { Timeout = TimeSpan.FromSeconds(1) });

        // Hop 1 answered, then 5 silent hops (MaxSilentHops), not 29.
        Assert.Equal([1, 2, 3, 4, 5, 6], run.Hops.Select(h => h.Hop.Distance));
        Assert.All(run.Hops.Skip(1), h => Assert.Equal(IcmpStatus.TimedOut, h.Hop.Status));
        Assert.InRange(run.EndMilliseconds, 1000, 1200);
        Assert.True(run.ProbesSent <= 3 * (1 + TraceroutePlanner.Window), $"{run.ProbesSent} probes");
    }

    [Fact]
    public void MaxSilentHopsSetsTheLengthOfTheSilentRun()
    {
        var network = new FakeRouterNetwork("198.18.13.7", 0.4, new FakeHop(new FakeRouter("198.18.1.1", 0.1)))
        { DestinationSilent = true };

        var run = Trace(network, Defaults with { Timeout = TimeSpan.FromSeconds(1), MaxSilentHops = 2 });

        Assert.Equal([1, 2, 3], run.Hops.Select(h => h.Hop.Distance));
    }

    [Fact]
    public void ASilentRunLongerThanTheWindowStillEndsTheTrace()
    {
        // Issue 14 (1): the window stopped 16 TTLs past the last answer while the stop rule waited for 20.
        var network = new FakeRouterNetwork("198.18.13.7", 0.4, new FakeHop(new FakeRouter("198.18.1.1", 0.1)))
        { DestinationSilent = true };

        var run = Trace(network, Defaults with { Timeout = TimeSpan.FromSeconds(1), MaxSilentHops = 20, MaxHops = 30 });

        Assert.Equal(Enumerable.Range(1, 21), run.Hops.Select(h => h.Hop.Distance));
        Assert.All(run.Hops.Skip(1), h => Assert.Equal(IcmpStatus.TimedOut, h.Hop.Status));
        Assert.InRange(run.EndMilliseconds, 1000, 1200);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(13)]
    public void DestinationUnreachableEndsTheTraceAtThatRouterWithItsCode(int code)
    {
        var run = Trace(ThreeRouters(new FakeRouter("198.18.2.2", 0.2) { UnreachableCode = code }, "198.18.12.7"), Defaults);

        Assert.Equal([1, 2], run.Hops.Select(h => h.Hop.Distance));
        Assert.Equal(IcmpStatus.DestinationUnreachable, run[2].Status);
        Assert.Equal(code, run[2].Code);
        Assert.Equal("198.18.2.2", run[2].Address);
        Assert.True(run.EndMilliseconds < 1, $"ended at {run.EndMilliseconds} ms");
    }

    [Fact]
    public void ARouterThatRateLimitsItsErrorsIsFlaggedAndForwardingLossIsNot()
    {
        var limited = Trace(ThreeRouters(new FakeRouter("198.18.2.2", 0.2) { ErrorShare = 0.3 }), Defaults with { Count = 20 });

        Assert.True(limited[2].PacketLoss > 0, "the rate limit lost nothing");
        Assert.True(limited[2].IsRateLimited);
        Assert.All([limited[1], limited[3], limited[4]], h => Assert.False(h.IsRateLimited));
        Assert.Equal(0, limited[3].PacketLoss);

        var lossy = new FakeRouterNetwork("198.18.15.1", 0.4,
            new FakeHop(new FakeRouter("198.18.1.1", 0.1)),
            new FakeHop(new FakeRouter("198.18.2.2", 0.2)),
            new FakeHop(new FakeRouter("198.18.3.2", 0.3)) { LinkLoss = 0.3 });
        var forwarded = Trace(lossy, Defaults with { Count = 20 });

        Assert.Equal(0, forwarded[2].PacketLoss);
        Assert.True(forwarded[3].PacketLoss > 0);
        Assert.True(forwarded[4].PacketLoss > 0);
        Assert.All(forwarded.Hops, h => Assert.False(h.Hop.IsRateLimited));
    }

    [Fact]
    public void FastModeStopsProbingAHopAfterItsFirstAnswer()
    {
        var network = ThreeRouters();
        var run = Trace(network, Defaults with { FastMode = true, Interval = TimeSpan.FromMilliseconds(100) });

        Assert.Equal([1, 2, 3, 4], run.Hops.Select(h => h.Hop.Distance));
        Assert.All(run.Hops, h => Assert.Equal(1, h.Hop.PacketsSent));
        Assert.All(run.Hops, h => Assert.Equal(1, h.Hop.PacketsReceived));
        Assert.True(run.EndMilliseconds < 1, $"ended at {run.EndMilliseconds} ms");
        Assert.Equal(1, network.SentByTtl[2]);
    }

    [Fact]
    public void RoundsAreSpacedByTheInterval()
    {
        var run = Trace(ThreeRouters(), Defaults with { Interval = TimeSpan.FromMilliseconds(100) });

        Assert.All(run.Hops, h => Assert.Equal(3, h.Hop.PacketsReceived));
        Assert.InRange(run.EndMilliseconds, 200, 201);
    }

    [Fact]
    public void MinHopsSkipsTheFirstRouters()
    {
        var run = Trace(ThreeRouters(), Defaults with { MinHops = 3 });

        Assert.Equal([3, 4], run.Hops.Select(h => h.Hop.Distance));
    }

    [Fact]
    public void MaxHopsBoundsAPathThatNeverReachesItsTarget()
    {
        var routers = Enumerable.Range(1, 40).Select(i => new FakeHop(new FakeRouter($"10.0.{i}.1", i * 0.1))).ToArray();
        var run = Trace(new FakeRouterNetwork("198.18.99.1", 5, routers), Defaults with { MaxHops = 20, Count = 1 });

        Assert.Equal(Enumerable.Range(1, 20), run.Hops.Select(h => h.Hop.Distance));
        Assert.All(run.Hops, h => Assert.Equal(IcmpStatus.TimeExceeded, h.Hop.Status));
    }

    [Fact]
    public void ALongSilentGapWithAnsweringRoutersBeyondIsCrossedByTheWindow()
    {
        var routers = new List<FakeHop> { new(new FakeRouter("10.0.1.1", 0.1)) };
        routers.AddRange(Enumerable.Range(2, 3).Select(i => new FakeHop(new FakeRouter($"10.0.{i}.1", 0.1) { Silent = true })));
        routers.Add(new FakeHop(new FakeRouter("10.0.5.1", 0.5)));
        var run = Trace(new FakeRouterNetwork("198.18.4.2", 0.6, [.. routers]), Defaults with { MaxSilentHops = 5 });

        Assert.Equal([1, 2, 3, 4, 5, 6], run.Hops.Select(h => h.Hop.Distance));
        Assert.Equal(IcmpStatus.Success, run[6].Status);
        Assert.All([run[2], run[3], run[4]], h => Assert.Null(h.Address));
    }

    private static FakeRouterNetwork Diamond(bool perPacket = false) =>
        new("198.18.30.1", 0.4,
            new FakeHop(new FakeRouter("198.18.1.1", 0.1)),
            new FakeHop(new FakeRouter("198.18.2.2", 0.2), new FakeRouter("198.18.5.2", 0.2)) { PerPacket = perPacket },
            new FakeHop(new FakeRouter("198.18.3.2", 0.3)));

    [Fact]
    public void AFlowStableTraceFollowsOnePathThroughAPerFlowBalancer()
    {
        var seen = new HashSet<string>();
        for (var flow = 0; flow < 8; flow++)
        {
            var run = Trace(Diamond(), Defaults with { FlowId = flow, Count = 10 });
            var middle = Assert.Single(run[2].Addresses);
            seen.Add(middle);
            Assert.Equal(flow, run[2].FlowId);
            Assert.Single(run[3].Links);
            Assert.Equal(middle, run[3].Links[0].From);
        }
        // Different flows take both branches: the flow id picks the path.
        Assert.Equal(2, seen.Count);
    }

    [Fact]
    public void MultipathFindsBothBranchesOfTheDiamondAndTheirLinks()
    {
        var run = Trace(Diamond(), Defaults with { Multipath = true });

        Assert.Equal([1, 2, 3, 4], run.Hops.Select(h => h.Hop.Distance));
        Assert.Equal(["198.18.2.2", "198.18.5.2"], run[2].Addresses.Order());
        Assert.Single(run[1].Addresses);
        Assert.Single(run[3].Addresses);
        Assert.Equal(["198.18.1.1>198.18.2.2", "198.18.1.1>198.18.5.2"], run[2].Links.Select(l => l.ToString()).Order());
        Assert.Equal(["198.18.2.2>198.18.3.2", "198.18.5.2>198.18.3.2"], run[3].Links.Select(l => l.ToString()).Order());
        Assert.Equal(["198.18.3.2>198.18.30.1"], run[4].Links.Select(l => l.ToString()));
        Assert.Null(run[2].FlowId);
        // Two next hops after r1 need n_2 = 11 flows through it; the single-router hops stop at n_1 = 6 or what the links asked.
        Assert.True(run[2].PacketsSent >= 11, $"{run[2].PacketsSent} flows at distance 2");
        Assert.True(run[2].PacketsSent <= TraceroutePlanner.MaxFlows);
        // In parallel: a few RTTs of rounds, not seconds.
        Assert.True(run.EndMilliseconds < 5, $"ended at {run.EndMilliseconds} ms");
    }

    [Fact]
    public void MultipathShowsABranchBehindASilentRouterThroughAStarNode()
    {
        var network = new FakeRouterNetwork("198.18.30.1", 0.4,
            new FakeHop(new FakeRouter("198.18.1.1", 0.1)),
            new FakeHop(new FakeRouter("198.18.2.2", 0.2), new FakeRouter("198.18.5.2", 0.2) { Silent = true }),
            new FakeHop(new FakeRouter("198.18.3.2", 0.3)));

        var run = Trace(network, Defaults with { Multipath = true, Timeout = TimeSpan.FromMilliseconds(50) });

        // The silent branch's flows still went somewhere: r1 leads to it, and it leads to r3.
        Assert.Equal(["198.18.2.2"], run[2].Addresses);
        Assert.Equal(["198.18.1.1>*", "198.18.1.1>198.18.2.2"], run[2].Links.Select(l => l.ToString()).Order(StringComparer.Ordinal));
        Assert.Equal(["*>198.18.3.2", "198.18.2.2>198.18.3.2"], run[3].Links.Select(l => l.ToString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void AStraightSilentHopIsNotAStarBranchWithoutMultipath()
    {
        var run = Trace(ThreeRouters(new FakeRouter("198.18.2.2", 0.2) { Silent = true }), Defaults with { Timeout = TimeSpan.FromMilliseconds(50) });

        Assert.Empty(run[2].Links);
        Assert.Empty(run[3].Links);
    }

    [Fact]
    public void MultipathStartsItsFlowsAtFlowId()
    {
        var planner = new TraceroutePlanner("198.18.4.2", IcmpFamily.IPv4, Defaults with { Multipath = true, FlowId = 40 }, Frequency, 0);
        var due = new List<PlannedProbe>();

        planner.TakeDue(0, due);

        Assert.NotEmpty(due);
        Assert.Equal(40, due.Min(p => p.Flow));
    }

    [Fact]
    public void MultipathOnAStraightPathStopsAtSixFlowsAHop()
    {
        var run = Trace(ThreeRouters(), Defaults with { Multipath = true });

        Assert.All(run.Hops, h => Assert.Single(h.Hop.Addresses));
        Assert.All(run.Hops, h => Assert.Equal(6, h.Hop.PacketsSent));
    }

    [Theory]
    [InlineData(0.999, 11)]
    [InlineData(0.99999, 18)]
    public void AHigherMultipathConfidenceSendsTheFlowsItsStoppingRuleNeeds(double confidence, int flows)
    {
        var run = Trace(ThreeRouters(), Defaults with { Multipath = true, MultipathConfidence = confidence });

        Assert.All(run.Hops, h => Assert.Single(h.Hop.Addresses));
        Assert.All(run.Hops, h => Assert.Equal(flows, h.Hop.PacketsSent));
    }

    [Theory]
    [InlineData(0.49)]
    [InlineData(0.999991)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void AMultipathConfidenceOutOfRangeIsRefused(double confidence)
    {
        var options = Defaults with { Multipath = true, MultipathConfidence = confidence };

        var error = Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Equal(nameof(TracerouteOptions.MultipathConfidence), error.ParamName);
    }

    [Fact]
    public void BehindAPerPacketBalancerBothRespondersAppearInAddresses()
    {
        var run = Trace(Diamond(perPacket: true), Defaults with { Count = 20 });

        Assert.Equal(["198.18.2.2", "198.18.5.2"], run[2].Addresses.Order());
        Assert.Equal(run[2].Addresses[0], run[2].Address);
    }

    [Fact]
    public void StopCancelsWhatIsOutAndEndsTheTrace()
    {
        var planner = new TraceroutePlanner("198.18.4.2", IcmpFamily.IPv4, Defaults, Frequency, 0);
        var due = new List<PlannedProbe>();
        planner.TakeDue(0, due);
        Assert.NotEmpty(due);

        planner.Stop();
        planner.Update(1);

        var cancelled = new List<int>();
        planner.TakeCancelled(cancelled);
        Assert.Equal(due.Count, cancelled.Count);
        Assert.True(planner.IsDone);
        var hops = new List<Hop>();
        planner.TakeFinishedHops(hops);
        Assert.Empty(hops);
    }

    [Fact]
    public void AProbeStillQueuedIsNotTimedOutAndWaitsFromItsSend()
    {
        var planner = new TraceroutePlanner("198.18.4.2", IcmpFamily.IPv4, Defaults with { Count = 1, MaxHops = 1 }, Frequency, 0);
        var due = new List<PlannedProbe>();
        planner.TakeDue(0, due);

        // A paced scheduler holds it for 3 s, longer than the 2 s timeout.
        planner.Update(3 * Frequency);
        Assert.False(planner.IsDone);
        Assert.Equal(long.MaxValue, planner.NextWake);

        planner.OnSent(due[0].Id, 3 * Frequency);
        planner.OnAnswer(due[0].Id, new TraceAnswer(IcmpStatus.Success, "198.18.4.2", 0, 1, 64, -1));
        planner.Update(3 * Frequency + 1000);

        var hops = new List<Hop>();
        planner.TakeFinishedHops(hops);
        Assert.Equal(IcmpStatus.Success, Assert.Single(hops).Status);
    }

    [Fact]
    public void AProbeThatLeavesAfterAHopBeyondItAnsweredGetsTheShortWait()
    {
        var planner = new TraceroutePlanner("198.18.4.2", IcmpFamily.IPv4, Defaults with { Count = 1, MaxHops = 2 }, Frequency, 0);
        var due = new List<PlannedProbe>();
        planner.TakeDue(0, due);
        var near = due.Single(p => p.Ttl == 1);
        var far = due.Single(p => p.Ttl == 2);

        planner.OnSent(far.Id, 0);
        planner.OnAnswer(far.Id, new TraceAnswer(IcmpStatus.Success, "198.18.4.2", 0, 1, 64, -1));
        // Sent the instant it was planned, but after the hop beyond answered: it waits 20 ms, not 2 s.
        planner.OnSent(near.Id, 0);

        var retimed = new List<RetimedProbe>();
        planner.TakeRetimed(retimed);
        Assert.Equal((long)(TraceroutePlanner.MinAdaptiveWait.TotalSeconds * Frequency), Assert.Single(retimed, r => r.Id == near.Id).Deadline);
    }

    [Fact]
    public void ALateAnswerAfterTheDeadlineIsIgnored()
    {
        var planner = new TraceroutePlanner("198.18.4.2", IcmpFamily.IPv4, Defaults with { Count = 1, MaxHops = 1 }, Frequency, 0);
        var due = new List<PlannedProbe>();
        planner.TakeDue(0, due);
        planner.OnSent(due[0].Id, 0);
        planner.Update(3 * Frequency);
        planner.OnAnswer(due[0].Id, new TraceAnswer(IcmpStatus.TimeExceeded, "198.18.1.1", 0, 2500, 64, 1));
        planner.Update(3 * Frequency);

        var hops = new List<Hop>();
        planner.TakeFinishedHops(hops);
        var hop = Assert.Single(hops);
        Assert.Equal(IcmpStatus.TimedOut, hop.Status);
        Assert.Equal(1, hop.PacketsSent);
        Assert.Equal(0, hop.PacketsReceived);
    }
}
