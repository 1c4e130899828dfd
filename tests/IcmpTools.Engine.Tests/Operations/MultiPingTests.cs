using System.Net;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Operations;

/// <summary>The sweep's scheduling and bookkeeping over a fake network (192.0.2.0/24 never leaves the process).</summary>
public sealed class MultiPingTests
{
    private static async IAsyncEnumerable<string> Targets(params string[] targets)
    {
        foreach (var t in targets)
        {
            await Task.Yield();
            yield return t;
        }
    }

    private static async Task<List<SweepResult>> Sweep(Prober prober, MultiPingOptions options, params string[] targets)
    {
        using var sweep = new MultiPing(_ => prober, options);
        var results = new List<SweepResult>();
        await foreach (var r in sweep.RunAsync(Targets(targets)))
        {
            results.Add(r);
        }
        return results;
    }

    private static readonly MultiPingOptions Quick = new()
    {
        Count = 2,
        Interval = TimeSpan.FromMilliseconds(5),
        Timeout = TimeSpan.FromMilliseconds(200),
        Rate = 0,
        ThrottleLimit = 64,
    };

    [Fact]
    public async Task EveryHostOfABlockIsReportedOnceAndAlive()
    {
        using var fake = new FakeTransport();
        using var prober = new Prober(fake);

        var results = await Sweep(prober, Quick, "192.0.2.0/24");

        var hosts = results.Select(r => r.Host!).ToList();
        Assert.Equal(254, hosts.Count);
        Assert.Equal(254, hosts.Select(h => h.Address).Distinct().Count());
        Assert.All(hosts, h => Assert.Equal(2, h.PacketsReceived));
        Assert.Equal(508, fake.Sent.Count);
    }

    [Fact]
    public async Task OnlyTheAnsweringHalfIsAlive()
    {
        using var fake = new FakeTransport(echo => echo.Destination.GetAddressBytes()[3] < 128 ? [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1))] : []);
        using var prober = new Prober(fake);

        var results = await Sweep(prober, Quick, "192.0.2.0/24");

        var alive = results.Where(r => r.Host!.IsAlive).Select(r => r.Host!.Address).ToHashSet();
        Assert.Equal(127, alive.Count);
        Assert.All(alive, a => Assert.True(IPAddress.Parse(a).GetAddressBytes()[3] < 128));
    }

    [Fact]
    public async Task LossIsCountedAgainstWhatWasSent()
    {
        // Each host loses exactly its second and fourth probe.
        using var fake = new FakeTransport(echo => echo.Sequence is 2 or 4 ? [] : [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1))]);
        using var prober = new Prober(fake);

        var results = await Sweep(prober, Quick with { Count = 5 }, "192.0.2.1-192.0.2.20");

        Assert.Equal(20, results.Count);
        Assert.All(results, r => Assert.Equal(0.4, r.Host!.PacketLoss, 6));
    }

    [Fact]
    public async Task BadTargetsAreOneErrorEachAndTheRestStillComplete()
    {
        using var fake = new FakeTransport();
        using var prober = new Prober(fake);

        var results = await Sweep(prober, Quick, "192.0.2.1", "192.0.2.9-192.0.2.3", "not a target", "192.0.2.0/99", "192.0.2.2", "0.0.0.0/0");

        Assert.Equal(["192.0.2.1", "192.0.2.2"], results.Where(r => r.Host is not null).Select(r => r.Host!.Address).Order());
        var errors = results.Where(r => r.Error is not null).ToDictionary(r => r.Target, r => ((InvalidTargetException)r.Error!).Reason);
        Assert.Equal(InvalidTargetReason.ReversedRange, errors["192.0.2.9-192.0.2.3"]);
        Assert.Equal(InvalidTargetReason.Malformed, errors["not a target"]);
        Assert.Equal(InvalidTargetReason.Malformed, errors["192.0.2.0/99"]);
        Assert.Equal(InvalidTargetReason.TooLarge, errors["0.0.0.0/0"]);
    }

    [Fact]
    public async Task HostsStreamOutBeforeTheSweepEnds()
    {
        // The last host answers after a second; the first result must not wait for it.
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(echo.Destination.ToString() == "192.0.2.50" ? 1000 : 1))]);
        using var prober = new Prober(fake);
        using var sweep = new MultiPing(_ => prober, Quick with { Count = 1, Timeout = TimeSpan.FromSeconds(2) });
        var clock = System.Diagnostics.Stopwatch.StartNew();
        long first = -1;
        var count = 0;

        await foreach (var r in sweep.RunAsync(Targets("192.0.2.1-192.0.2.50")))
        {
            if (first < 0)
            {
                first = clock.ElapsedMilliseconds;
            }
            count++;
        }

        Assert.Equal(50, count);
        Assert.InRange(first, 0, 500);
        Assert.True(clock.ElapsedMilliseconds >= 900, $"ended after {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task InFlightHostsNeverExceedTheThrottleLimit()
    {
        var inFlight = 0;
        var peak = 0;
        using var fake = new FakeTransport(echo =>
        {
            var now = Interlocked.Increment(ref inFlight);
            InterlockedMax(ref peak, now);
            return [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(3))];
        });
        using var prober = new Prober(fake);
        using var sweep = new MultiPing(_ => prober, Quick with { Count = 1, ThrottleLimit = 8 });
        var results = 0;

        await foreach (var r in sweep.RunAsync(Targets("192.0.2.1-192.0.2.200")))
        {
            Interlocked.Decrement(ref inFlight);
            results++;
        }

        Assert.Equal(200, results);
        Assert.InRange(peak, 1, 8);
    }

    [Fact]
    public async Task TheRateLimitPacesProbes()
    {
        using var fake = new FakeTransport();
        using var prober = new Prober(fake);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        var results = await Sweep(prober, Quick with { Count = 1, Rate = 200 }, "192.0.2.1-192.0.2.100");

        Assert.Equal(100, results.Count);
        // 100 probes at 200/s take about half a second; unpaced they would take a few milliseconds.
        Assert.True(clock.ElapsedMilliseconds >= 350, $"took {clock.ElapsedMilliseconds} ms");
    }

    [Fact]
    public async Task UnderARateLimitStartedHostsFinishBeforeNewOnesStart()
    {
        // 1,000 hosts at 1,000 probes/s with two probes 0.2 s apart: starting every host before any
        // second probe would hold the first result back for a whole second.
        using var fake = new FakeTransport();
        using var prober = new Prober(fake);
        using var sweep = new MultiPing(_ => prober, Quick with { Count = 2, Interval = TimeSpan.FromMilliseconds(200), Rate = 1000, ThrottleLimit = 4096 });
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await foreach (var r in sweep.RunAsync(Targets("192.0.2.0/24", "198.18.0.0/23", "198.18.2.0/24"), cts.Token))
        {
            Assert.Equal(2, r.Host!.PacketsReceived);
            break;
        }

        Assert.InRange(clock.ElapsedMilliseconds, 150, 600);
    }

    [Fact]
    public async Task CancellingStopsPromptlyAndEmitsNothingHalfDone()
    {
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake);
        using var sweep = new MultiPing(_ => prober, Quick with { Count = 1, Timeout = TimeSpan.FromSeconds(30) });
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var emitted = 0;

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var r in sweep.RunAsync(Targets("192.0.2.0/24"), cts.Token))
            {
                emitted++;
            }
        });

        Assert.Equal(0, emitted);
        Assert.InRange(clock.ElapsedMilliseconds, 0, 1000);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
