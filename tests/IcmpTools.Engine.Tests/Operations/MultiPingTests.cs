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

    private static Task<List<SweepResult>> Sweep(FakeTransport fake, Prober prober, MultiPingOptions options, params string[] targets) =>
        VirtualTime.Run(fake.Clock, Collect(fake, prober, options, targets));

    private static async Task<List<SweepResult>> Collect(FakeTransport fake, Prober prober, MultiPingOptions options, params string[] targets)
    {
        using var sweep = new MultiPing(_ => prober, options, fake.Clock);
        var results = new List<SweepResult>();
        await foreach (var r in sweep.RunAsync(Targets(targets)))
        {
            results.Add(r);
        }
        return results;
    }

    /// <summary>Virtual milliseconds since <paramref name="start"/>.</summary>
    private static double Elapsed(FakeTransport fake, long start) => fake.Clock.GetElapsedTime(start).TotalMilliseconds;

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
        using var prober = new Prober(fake, fake.Clock);

        var results = await Sweep(fake, prober, Quick, "192.0.2.0/24");

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
        using var prober = new Prober(fake, fake.Clock);

        var results = await Sweep(fake, prober, Quick, "192.0.2.0/24");

        var alive = results.Where(r => r.Host!.IsAlive).Select(r => r.Host!.Address).ToHashSet();
        Assert.Equal(127, alive.Count);
        Assert.All(alive, a => Assert.True(IPAddress.Parse(a).GetAddressBytes()[3] < 128));
    }

    [Fact]
    public async Task LossIsCountedAgainstWhatWasSent()
    {
        // Each host loses exactly its second and fourth probe.
        using var fake = new FakeTransport(echo => echo.Sequence is 2 or 4 ? [] : [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1))]);
        using var prober = new Prober(fake, fake.Clock);

        var results = await Sweep(fake, prober, Quick with { Count = 5 }, "192.0.2.1-192.0.2.20");

        Assert.Equal(20, results.Count);
        Assert.All(results, r => Assert.Equal(0.4, r.Host!.PacketLoss, 6));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(8)]
    public async Task APayloadTooSmallForTheCookieStillFindsEveryHostAlive(int payloadSize)
    {
        // Issue 14 (2): under 8 bytes the probes carry no cookie, and the sweep must match them by their header.
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);

        var results = await Sweep(fake, prober, Quick with { PayloadSize = payloadSize }, "192.0.2.1-192.0.2.20");

        Assert.Equal(20, results.Count);
        Assert.All(results, r => Assert.Equal(2, r.Host!.PacketsReceived));
        Assert.All(fake.Sent, e => Assert.Equal(payloadSize, e.Payload.Length));
    }

    [Fact]
    public async Task BadTargetsAreOneErrorEachAndTheRestStillComplete()
    {
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);

        var results = await Sweep(fake, prober, Quick, "192.0.2.1", "192.0.2.9-192.0.2.3", "not a target", "192.0.2.0/99", "192.0.2.2", "0.0.0.0/0");

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
        using var prober = new Prober(fake, fake.Clock);
        using var sweep = new MultiPing(_ => prober, Quick with { Count = 1, Timeout = TimeSpan.FromSeconds(2) }, fake.Clock);
        var start = fake.Clock.GetTimestamp();
        var results = sweep.RunAsync(Targets("192.0.2.1-192.0.2.50")).GetAsyncEnumerator();

        // Every probe is out and 5 ms pass: the first result comes now, while the slow answer is 995 ms away.
        var first = results.MoveNextAsync().AsTask();
        fake.WaitForSent(50);
        fake.Clock.Advance(TimeSpan.FromMilliseconds(5));
        Assert.True(await first.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.NotEqual("192.0.2.50", results.Current.Host!.Address);

        var count = 1;
        string? last = null;
        await VirtualTime.Run(fake.Clock, Task.Run(async () =>
        {
            while (await results.MoveNextAsync())
            {
                count++;
                last = results.Current.Host!.Address;
            }
        }));
        Assert.Equal(50, count);
        Assert.Equal("192.0.2.50", last);
        await results.DisposeAsync();
        Assert.True(Elapsed(fake, start) >= 1000, $"ended after {Elapsed(fake, start)} virtual ms");
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
        using var prober = new Prober(fake, fake.Clock);
        using var sweep = new MultiPing(_ => prober, Quick with { Count = 1, ThrottleLimit = 8 }, fake.Clock);
        var results = 0;

        await VirtualTime.Run(fake.Clock, Task.Run(async () =>
        {
            await foreach (var r in sweep.RunAsync(Targets("192.0.2.1-192.0.2.200")))
            {
                Interlocked.Decrement(ref inFlight);
                results++;
            }
        }));

        Assert.Equal(200, results);
        Assert.InRange(peak, 1, 8);
    }

    [Fact]
    public async Task TheRateLimitPacesProbes()
    {
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);
        var start = fake.Clock.GetTimestamp();

        var results = await Sweep(fake, prober, Quick with { Count = 1, Rate = 200 }, "192.0.2.1-192.0.2.100");

        Assert.Equal(100, results.Count);
        // The token bucket (200/s, bursts of 2): by any moment t no more than 2 + 200 t probes have left.
        // Only a lower bound on each send time: a loaded machine can send later, never sooner.
        // Measured from before the sweep began: its scheduler's bucket cannot have started earlier. The 10 µs
        // slack is arithmetic, not speed: the send times are absolute timestamps 56 years after the epoch,
        // converted through a double, and a probe sent exactly on its token's due time may read a few ticks early.
        var origin = fake.Clock.GetElapsedTime(0, start);
        var sent = fake.Sent.Select(e => (e.SentAt - origin).TotalSeconds).ToList();
        for (var i = 0; i < sent.Count; i++)
        {
            Assert.True(sent[i] >= ((i + 1 - 2) / 200.0) - 1e-5, $"probe {i} left at {sent[i]} s, ahead of the rate");
        }
        Assert.True(Elapsed(fake, start) >= 490);
    }

    private static async IAsyncEnumerable<string> Later(TimeProvider clock, TimeSpan wait, string target)
    {
        await Task.Delay(wait, clock);
        yield return target;
    }

    [Fact]
    public async Task APauseEarnsNoCreditToBurstWithAfterwards()
    {
        // The input comes after a second of nothing: those idle seconds must not let 100 probes out at once.
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);
        using var sweep = new MultiPing(_ => prober, Quick with { Count = 1, Rate = 200 }, fake.Clock);

        await VirtualTime.Run(fake.Clock, Task.Run(async () =>
        {
            await foreach (var r in sweep.RunAsync(Later(fake.Clock, TimeSpan.FromSeconds(1), "192.0.2.1-192.0.2.100")))
            {
            }
        }));

        var sent = fake.Sent.Select(e => e.SentAt.TotalSeconds).ToList();
        Assert.Equal(100, sent.Count);
        // One burst (2) at once, then 200/s: 98 more take 0.49 s, less up to one token for the fraction of a
        // token the bucket held when the pause ended. Without the rule all 100 leave within milliseconds.
        Assert.True(sent[^1] - sent[0] >= 0.485 - 1e-9, $"100 probes left within {sent[^1] - sent[0]} s after the pause");
    }

    [Fact]
    public async Task UnderARateLimitStartedHostsFinishBeforeNewOnesStart()
    {
        // 1,000 hosts at 1,000 probes/s with two probes 0.2 s apart: starting every host before any
        // second probe would hold the first result back for a whole second.
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);
        using var sweep = new MultiPing(_ => prober, Quick with { Count = 2, Interval = TimeSpan.FromMilliseconds(200), Rate = 1000, ThrottleLimit = 4096 }, fake.Clock);
        var started = -1;

        await VirtualTime.Run(fake.Clock, Task.Run(async () =>
        {
            await foreach (var r in sweep.RunAsync(Targets("192.0.2.0/24", "198.18.0.0/23", "198.18.2.0/24")))
            {
                Assert.Equal(2, r.Host!.PacketsReceived);
                started = fake.Sent.Count(e => e.Sequence == 1);
                break;
            }
        }));

        // About 200 hosts start in the first interval; admitting every host first would start all 1,022.
        Assert.InRange(started, 1, 511);
    }

    [Fact]
    public async Task CancellingStopsPromptlyAndEmitsNothingHalfDone()
    {
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake, fake.Clock);
        using var sweep = new MultiPing(_ => prober, Quick with { Count = 1, Timeout = TimeSpan.FromSeconds(30) }, fake.Clock);
        using var cts = new CancellationTokenSource();
        var emitted = 0;

        var run = Task.Run(async () =>
        {
            await foreach (var r in sweep.RunAsync(Targets("192.0.2.0/24"), cts.Token))
            {
                emitted++;
            }
        });
        fake.WaitForSent(64);
        await cts.CancelAsync();

        // No virtual time passes: cancelling alone ends it, long before any of the 30 s timeouts.
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, emitted);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
