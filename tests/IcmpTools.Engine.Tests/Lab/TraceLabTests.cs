using System.Diagnostics;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// Traceroute through the lab (tests/netlab): real raw sockets in the client namespace, real routers in
/// theirs. Assertions are about hops, statuses, codes and links; the only time bounds are generous ones.
/// </summary>
[Collection(LabGroup.Name)]
public sealed class TraceLabTests(LabFixture fixture)
{
    private sealed record Trace(List<Hop> Hops, TimeSpan Elapsed)
    {
        public Hop this[int distance] => Hops.Single(h => h.Distance == distance);
        public IEnumerable<string?> Addresses => Hops.Select(h => h.Address);
    }

    private Trace TraceFromClient(string target, TracerouteOptions options) => fixture.Lab.InClient(() =>
    {
        var address = IPAddress.Parse(target);
        using var lease = ProberPool.Acquire(TargetResolver.FamilyOf(address));
        var watch = Stopwatch.StartNew();
        var hops = Collect(Traceroute.StreamAsync(lease.Prober, address, options)).GetAwaiter().GetResult();
        return new Trace(hops, watch.Elapsed);
    });

    private static async Task<List<Hop>> Collect(IAsyncEnumerable<Hop> hops)
    {
        var list = new List<Hop>();
        await foreach (var hop in hops)
        {
            list.Add(hop);
        }
        return list;
    }

    // Long enough that a trace which waits for even one timeout is caught by a bound (half of it) that no
    // loaded machine reaches by slowness alone: a trace of answering hops takes the path's RTTs.
    private static readonly TracerouteOptions Quick = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>
    /// Many probes per hop, paced: 16 TTLs x 10-20 probes sent in one burst make the kernel defer part of
    /// the lab's forwarding to ksoftirqd, which on a loaded machine can hold answers past the adaptive wait.
    /// These tests are about what the hops show, not about bursts, so they spread the probes out.
    /// </summary>
    private static TracerouteOptions Many(int count) => Quick with { Count = count, Rate = 2000 };

    private static string Describe(Trace trace) =>
        string.Join(" | ", trace.Hops.Select(h => $"{h} sent={h.PacketsSent} from={string.Join(',', h.Addresses)}"));

    private static void AssertDistancesInOrder(Trace trace) =>
        Assert.Equal(Enumerable.Range(1, trace.Hops.Count), trace.Hops.Select(h => h.Distance));

    [SkippableTheory]
    [InlineData("198.18.4.2", "198.18.1.1", "198.18.2.2", "198.18.3.2")]
    [InlineData("2001:db8:4::2", "2001:db8:1::1", "2001:db8:2::2", "2001:db8:3::2")]
    public void TheThreeRouterPathGivesR1R2R3AndTheTarget(string target, string r1, string r2, string r3)
    {
        var trace = TraceFromClient(target, Quick);

        Assert.Equal([r1, r2, r3, target], trace.Addresses);
        AssertDistancesInOrder(trace);
        Assert.Equal([IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.Success],
            trace.Hops.Select(h => h.Status));
        Assert.All(trace.Hops, h => Assert.True(h.PacketsReceived >= 1, $"hop {h.Distance} got no answer"));
        Assert.All(trace.Hops, h => Assert.Equal(0, h.FlowId));
        Assert.All(trace.Hops.Take(3), h => Assert.Equal(1, h.QuotedTtl));
        Assert.All(trace.Hops, h => Assert.NotNull(h.ReplyTtl));
        Assert.All(trace.Hops, h => Assert.False(h.IsRateLimited));
        // No hop waited for the timeout: a trace of answering hops takes the path's RTTs.
        Assert.True(trace.Elapsed < Quick.Timeout / 2, $"took {trace.Elapsed}");
    }

    [SkippableTheory]
    [InlineData("198.18.4.2", "198.18.3.2")]
    [InlineData("2001:db8:4::2", "2001:db8:3::2")]
    public void ASilentMiddleRouterIsASilentHopAndTheLaterHopsStillCome(string target, string r3)
    {
        fixture.Lab.SetSilent("r2", true);
        try
        {
            var options = Quick with { Timeout = TimeSpan.FromSeconds(60) };
            var trace = TraceFromClient(target, options);

            AssertDistancesInOrder(trace);
            Assert.Equal(4, trace.Hops.Count);
            Assert.Null(trace[2].Address);
            Assert.Equal(1, trace[2].PacketLoss);
            Assert.Equal(IcmpStatus.TimedOut, trace[2].Status);
            Assert.Equal(r3, trace[3].Address);
            Assert.Equal(IcmpStatus.Success, trace[4].Status);
            // The silent hop waited a few RTTs of the hops beyond it, not the 60 s timeout.
            Assert.True(trace.Elapsed < options.Timeout / 2, $"took {trace.Elapsed}");
        }
        finally
        {
            fixture.Lab.SetSilent("r2", false);
        }
    }

    [SkippableTheory]
    [InlineData("198.18.10.1")]
    [InlineData("2001:db8:10::1")]
    public void RttsStepUpAfterTheDelayedLink(string target)
    {
        // r2 holds echo requests to this target for 10 ms as it forwards them: r3 and the target see it, r1 and r2 do not.
        var trace = TraceFromClient(target, Quick with { Count = 5 });

        Assert.Equal(4, trace.Hops.Count);
        // Lower bounds only where the delay guarantees them: every answer from behind the delayed link took 10 ms.
        Assert.All([trace[3], trace[4]], h => Assert.All(h.Rtts, rtt => Assert.True(rtt >= 10, $"hop {h.Distance}: rtt {rtt} ms is under the 10 ms delay")));
        // Before the link, measured against the same trace: r1's and r2's best answers beat the best from behind it.
        Assert.All([trace[1], trace[2]], h => Assert.True(h.MinRtt < trace[3].MinRtt, $"hop {h.Distance}: {h.MinRtt} ms, hop 3: {trace[3].MinRtt} ms"));
        // The target crossed the delayed link once, as r3's answers did: its best is within one delay of r3's slowest,
        // not two delays above (an RTT that counted it twice). Compared with r3, not with r1/r2: the delay is a user-
        // space program, and under stress-ng its own scheduling adds to every delayed answer alike. The bound this replaces
        // (hop 3 under hop 2's slowest + 20 ms) was drawn from the undelayed hops; the test failed once under stress-ng
        // (IPv6, message not kept), and that bound is the one a late delayer breaks.
        Assert.True(trace[4].MinRtt < trace[3].MaxRtt + 10,
            $"hop 4: best {trace[4].MinRtt} ms is a delay or more above hop 3's slowest, {trace[3].MaxRtt} ms");
    }

    [SkippableTheory]
    [InlineData("198.18.12.7", "198.18.2.2", 1)]
    [InlineData("2001:db8:12::7", "2001:db8:2::2", 0)]
    [InlineData("198.18.14.7", "198.18.2.2", 13)]
    [InlineData("2001:db8:14::7", "2001:db8:2::2", 1)]
    public void AnUnreachableTargetEndsTheTraceAtTheRouterThatSaysSoWithItsCode(string target, string router, int code)
    {
        var trace = TraceFromClient(target, Quick);

        Assert.Equal(2, trace.Hops.Count);
        Assert.Equal(IcmpStatus.TimeExceeded, trace[1].Status);
        Assert.Equal(IcmpStatus.DestinationUnreachable, trace[2].Status);
        Assert.Equal(code, trace[2].Code);
        Assert.Equal(router, trace[2].Address);
        Assert.True(trace.Elapsed < Quick.Timeout / 2, $"took {trace.Elapsed}");
    }

    [SkippableTheory]
    [InlineData("198.18.13.7")]
    [InlineData("2001:db8:13::7")]
    public void ABlackholedTargetEndsAfterTheSilentRun(string target)
    {
        var options = Quick with { Timeout = TimeSpan.FromSeconds(4) };
        var trace = TraceFromClient(target, options);

        // r1 answers, r2 drops: five silent hops (MaxSilentHops) and the trace ends, not at 30.
        AssertDistancesInOrder(trace);
        Assert.Equal(1 + options.MaxSilentHops, trace.Hops.Count);
        Assert.Equal(IcmpStatus.TimeExceeded, trace[1].Status);
        Assert.All(trace.Hops.Skip(1), h => Assert.Equal(IcmpStatus.TimedOut, h.Status));
        // About one timeout (the silent probes all went out at once); one after the other they would take
        // MaxSilentHops timeouts (20 s). Two timeouts leave 4 s for a loaded machine.
        Assert.True(trace.Elapsed < options.Timeout * 2, $"took {trace.Elapsed}");
        Assert.True(trace.Elapsed >= options.Timeout * 0.9, $"took only {trace.Elapsed}");
    }

    [SkippableTheory]
    [InlineData("198.18.15.1")]
    [InlineData("2001:db8:15::1")]
    public void ForwardingLossIsLossAndNotRateLimiting(string target)
    {
        // r2 drops 30 % of what it forwards to this target: r3 and the target both lose probes.
        var trace = TraceFromClient(target, Many(20) with { Timeout = TimeSpan.FromSeconds(1) });

        Assert.Equal(4, trace.Hops.Count);
        Assert.Equal(0, trace[1].PacketLoss);
        Assert.Equal(0, trace[2].PacketLoss);
        Assert.True(trace[3].PacketLoss > 0 || trace[4].PacketLoss > 0, "no loss beyond the lossy link");
        Assert.All(trace.Hops, h => Assert.False(h.IsRateLimited, $"hop {h.Distance} flagged"));
    }

    [SkippableTheory]
    [InlineData("198.18.4.2")]
    [InlineData("2001:db8:4::2")]
    public void ARouterThatRateLimitsItsErrorsIsFlaggedWhileTheHopsBeyondShowNoLoss(string target)
    {
        fixture.Lab.SetRateLimited("r2", true);
        try
        {
            var trace = TraceFromClient(target, Many(10) with { Timeout = TimeSpan.FromSeconds(1) });

            Assert.Equal(4, trace.Hops.Count);
            Assert.True(trace[2].PacketLoss > 0, "r2's limit dropped nothing");
            Assert.True(trace[2].PacketsReceived > 0, "r2 sent nothing at all");
            Assert.True(trace[2].IsRateLimited);
            Assert.Equal(0, trace[3].PacketLoss);
            Assert.Equal(0, trace[4].PacketLoss);
            Assert.All([trace[1], trace[3], trace[4]], h => Assert.False(h.IsRateLimited));
        }
        finally
        {
            fixture.Lab.SetRateLimited("r2", false);
        }
    }

    [SkippableTheory]
    [InlineData("198.18.30.1", "198.18.2.2", "198.18.5.2")]
    [InlineData("2001:db8:30::1", "2001:db8:2::2", "2001:db8:5::2")]
    public void AFlowStableTraceStaysOnOnePathThroughAPerFlowBalancer(string target, string r2, string r2b)
    {
        var seen = new HashSet<string>();
        for (var flow = 0; flow < 8; flow++)
        {
            for (var run = 0; run < 2; run++)
            {
                var trace = TraceFromClient(target, Many(10) with { FlowId = flow });

                Assert.True(trace.Hops.Count == 4, Describe(trace));
                // Ten probes, one branch: the checksum (and so the balancer's hash) never changed.
                var middle = Assert.Single(trace[2].Addresses);
                Assert.Contains(middle, new[] { r2, r2b });
                Assert.Equal(flow, trace[2].FlowId);
                Assert.All(trace[3].Links, link => Assert.Equal(middle, link.From));
                Assert.Single(trace[3].Addresses);
                seen.Add(middle);
            }
        }
        // The flow id picks the branch: eight flows took both.
        Assert.Equal(2, seen.Count);
    }

    // r3 answers an IPv4 probe from the address of its route back (198.18.3.2) whichever branch the probe
    // took, but an IPv6 one from the interface it arrived on (RFC 4443 2.2): 2001:db8:6::2 behind r2b.
    [SkippableTheory]
    [InlineData("198.18.30.1", "198.18.1.1", "198.18.2.2", "198.18.5.2", "198.18.3.2", "198.18.3.2")]
    [InlineData("2001:db8:30::1", "2001:db8:1::1", "2001:db8:2::2", "2001:db8:5::2", "2001:db8:3::2", "2001:db8:6::2")]
    public void MultipathFindsBothRoutersOfTheDiamondAndTheirLinks(string target, string r1, string r2, string r2b, string r3, string r3ViaR2b)
    {
        // At the default 95 % the 6 flows of the stopping rule all hash onto one branch of the two in one trace of 32 (the
        // kernel's multipath hash is seeded per namespace, so each lab is a new draw); 99.999 % sends 18: one in 130,000.
        var trace = TraceFromClient(target, Quick with { Multipath = true, MultipathConfidence = 0.99999 });

        Assert.Equal(4, trace.Hops.Count);
        Assert.Equal([r1], trace[1].Addresses);
        Assert.Equal(new[] { r2, r2b }.Order(), trace[2].Addresses.Order());
        Assert.Equal(new[] { r3, r3ViaR2b }.Distinct().Order(), trace[3].Addresses.Order());
        Assert.Equal(new[] { $"{r1}>{r2}", $"{r1}>{r2b}" }.Order(), trace[2].Links.Select(l => l.ToString()).Order());
        Assert.Equal(new[] { $"{r2}>{r3}", $"{r2b}>{r3ViaR2b}" }.Order(), trace[3].Links.Select(l => l.ToString()).Order());
        Assert.Equal(new[] { r3, r3ViaR2b }.Distinct().Select(r => $"{r}>{target}").Order(), trace[4].Links.Select(l => l.ToString()).Order());
        Assert.True(trace.Elapsed < Quick.Timeout / 2, $"took {trace.Elapsed}");
    }

    [SkippableTheory]
    [InlineData("198.18.31.1", "198.18.2.2", "198.18.5.2")]
    [InlineData("2001:db8:31::1", "2001:db8:2::2", "2001:db8:5::2")]
    public void BehindAPerPacketBalancerBothRespondersAppearInAddresses(string target, string r2, string r2b)
    {
        // 20 probes at random over two branches: all on one branch has odds of 2 in a million.
        var trace = TraceFromClient(target, Many(20));

        Assert.Equal(new[] { r2, r2b }.Order(), trace[2].Addresses.Order());
        Assert.Equal(4, trace.Hops.Count);
    }
}
