using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>Sweeps across the lab's routers to blocks the target answers for (tests/netlab).</summary>
[Collection(LabGroup.Name)]
public sealed class SweepLabTests(LabFixture fixture)
{
    private List<SweepResult> SweepFromClient(MultiPingOptions options, params string[] targets) => fixture.Lab.InClient(() =>
    {
        using var v4 = ProberPool.Acquire(IcmpFamily.IPv4);
        using var v6 = ProberPool.Acquire(IcmpFamily.IPv6);
        using var sweep = new MultiPing(f => f == IcmpFamily.IPv4 ? v4.Prober : v6.Prober, options);
        return sweep.RunAsync(targets.ToAsyncEnumerable()).ToBlockingEnumerable().ToList();
    });

    private static readonly MultiPingOptions Fast = new() { Count = 1, Timeout = TimeSpan.FromSeconds(1), Rate = 0, ThrottleLimit = 65_536 };

    [SkippableFact]
    public void EveryAddressOfASlash16IsAliveAndNoneTwice()
    {
        var results = SweepFromClient(Fast, "198.19.0.0/16");

        Assert.All(results, r => Assert.Null(r.Error));
        var hosts = results.Select(r => r.Host!).ToList();
        Assert.Equal(65_534, hosts.Count);
        Assert.Equal(65_534, hosts.Select(h => h.Address).Distinct().Count());
        Assert.Equal(65_534, hosts.Count(h => h.IsAlive));
    }

    [SkippableFact]
    public void AnIPv6BlockIsAliveToo()
    {
        var hosts = SweepFromClient(Fast, "2001:db8:ff::/116").Select(r => r.Host!).ToList();

        Assert.Equal(4096, hosts.Count);
        Assert.All(hosts, h => Assert.True(h.IsAlive, h.Address));
    }

    [SkippableTheory]
    [InlineData("198.18.20.0/24", 127, 127)]
    [InlineData("2001:db8:20::/120", 128, 128)]
    public void OnlyTheLiveHalfOfAHalfBlackholedBlockIsAlive(string block, int alive, int dead)
    {
        var hosts = SweepFromClient(Fast with { Count = 2, Interval = TimeSpan.FromMilliseconds(10), Timeout = TimeSpan.FromSeconds(0.5) }, block)
            .Select(r => r.Host!).ToList();

        Assert.Equal(alive + dead, hosts.Count);
        var live = hosts.Where(h => h.IsAlive).ToList();
        Assert.Equal(alive, live.Count);
        // The live half is exactly the low half: .1-.127 (or ::0-::7f); no false positives above it.
        Assert.All(live, h => Assert.True(System.Net.IPAddress.Parse(h.Address).GetAddressBytes()[^1] < 128, h.Address));
    }

    [SkippableFact]
    public void LossPerHostIsWhatTheLinkDropped()
    {
        var before = DroppedAtTarget();
        var host = SweepFromClient(Fast with { Count = 200, Interval = TimeSpan.FromMilliseconds(2), Timeout = TimeSpan.FromSeconds(0.5) }, "198.18.11.1")
            .Single().Host!;
        var dropped = DroppedAtTarget() - before;

        Assert.Equal(200, host.PacketsSent);
        Assert.Equal(dropped, host.PacketsSent - host.PacketsReceived);
        Assert.InRange(dropped, 30, 90);
    }

    /// <summary>The target's nftables counter on the loss rule: packets it really dropped.</summary>
    private long DroppedAtTarget()
    {
        var ruleset = fixture.Lab.Exec("t", "nft list ruleset");
        var line = ruleset.Split('\n').First(l => l.Contains("198.18.11.1", StringComparison.Ordinal) && l.Contains("drop", StringComparison.Ordinal));
        var words = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(words[Array.IndexOf(words, "packets") + 1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
