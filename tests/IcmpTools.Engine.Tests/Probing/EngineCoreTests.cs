using System.Net;
using System.Reflection;
using System.Threading.Channels;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Probing;

/// <summary>
/// The engine-core defects of issue 7, one test each (they failed on the engine before the core was
/// rebuilt), plus the probe table's state machine and the new probe handles. Virtual time throughout.
/// </summary>
public sealed class EngineCoreTests
{
    private static readonly IPAddress Target = IPAddress.Parse("192.0.2.10");

    private static PingOptions Options(int count, double timeoutSeconds = 1, double intervalSeconds = 0) => new()
    {
        Count = count,
        Interval = TimeSpan.FromSeconds(intervalSeconds),
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
    };

    private static async IAsyncEnumerable<string> Targets(params string[] targets)
    {
        foreach (var t in targets)
        {
            await Task.Yield();
            yield return t;
        }
    }

    private static async Task<List<SweepResult>> SweepAll(MultiPing sweep, IAsyncEnumerable<string> targets)
    {
        var results = new List<SweepResult>();
        await foreach (var r in sweep.RunAsync(targets))
        {
            results.Add(r);
        }
        return results;
    }

    // 1. A full probe table made the next reservation throw, and the ping then waited forever.
    [Fact]
    public async Task PingingADeadAddressFasterThanTheTableEmptiesWaitsForRoomAndFinishes()
    {
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake, fake.Clock);
        var count = Prober.MaxSlots + 5_000;

        var ping = Ping.PingAsync(prober, Target, null, Options(count, timeoutSeconds: 0.5));
        // The clock stands still, so nothing times out: the table fills, and then the sender waits.
        fake.WaitForSent(Prober.MaxSlots, TimeSpan.FromMinutes(2));
        // Settled: the sender has had every chance to send more, and is parked waiting for room.
        await VirtualTime.Settle(fake.Clock);
        Assert.Equal(Prober.MaxSlots, fake.SentCount);
        Assert.Equal(Prober.MaxSlots, prober.InFlight);
        Assert.False(ping.IsCompleted);

        var host = await VirtualTime.Run(fake.Clock, ping, step: TimeSpan.FromMilliseconds(100), realLimit: TimeSpan.FromMinutes(3));

        Assert.Equal(count, host.PacketsSent);
        Assert.Equal(0, host.PacketsReceived);
        Assert.Equal(count, fake.SentCount);
        Assert.Equal(Prober.MaxSlots, prober.Capacity);
    }

    // 1. A send that threw was only looked at in a finally: the ping waited for results that never came.
    [Fact]
    public async Task ASocketThatBreaksEndsThePingWithItsError()
    {
        using var fake = new FakeTransport { SendException = new SocketUnavailableException("the socket broke") };
        using var prober = new Prober(fake, fake.Clock);

        var error = await Assert.ThrowsAsync<SocketUnavailableException>(() =>
            VirtualTime.Run(fake.Clock, Ping.PingAsync(prober, Target, null, Options(3))));

        Assert.Equal("the socket broke", error.Message);
        Assert.Equal(0, prober.InFlight);
    }

    // 1. MultiPing's completion never fired when its scheduler threw.
    [Fact]
    public async Task ASocketThatBreaksEndsTheSweepWithItsError()
    {
        using var fake = new FakeTransport { SendException = new SocketUnavailableException("the socket broke") };
        using var prober = new Prober(fake, fake.Clock);
        using var sweep = new MultiPing(_ => prober, new MultiPingOptions { Count = 2, Rate = 0 }, fake.Clock);

        await Assert.ThrowsAsync<SocketUnavailableException>(() =>
            VirtualTime.Run(fake.Clock, SweepAll(sweep, Targets("192.0.2.0/24"))));
        // Slots reserved for the batch that never left were given back.
        Assert.Equal(0, prober.InFlight);
    }

    // 6. The receive loop had no guard: an exception in it ended the host process.
    [Fact]
    public async Task AReceiveLoopThatFailsFailsThePendingProbesInsteadOfTheProcess()
    {
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake, fake.Clock);
        var ping = Ping.PingAsync(prober, Target, null, Options(1, timeoutSeconds: 60));
        fake.WaitForSent(1);

        fake.ReceiveException = new InvalidOperationException("the receive path broke");
        fake.Wake();

        var error = await Assert.ThrowsAsync<SocketUnavailableException>(() => ping.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.IsType<InvalidOperationException>(error.InnerException);
        Assert.NotNull(prober.Failure);
        // Later sends are refused with the failure rather than waiting for a loop that is gone.
        await Assert.ThrowsAsync<SocketUnavailableException>(() => Ping.PingAsync(prober, Target, null, Options(1)).WaitAsync(TimeSpan.FromSeconds(30)));
    }

    // 3. Two pings with the same identifier and exact payload took each other's replies.
    [Fact]
    public async Task TwoPingsWithTheSameIdentifierAndPayloadEachGetTheirOwnReplies()
    {
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(echo.Ttl == 10 ? 5 : 40))]);
        using var prober = new Prober(fake, fake.Clock);
        var options = Options(3, intervalSeconds: 0.1) with { Identifier = 777, Payload = [1, 2, 3] };

        var hosts = await VirtualTime.Run(fake.Clock, Task.WhenAll(
            Ping.PingAsync(prober, Target, null, options with { Ttl = 10 }),
            Ping.PingAsync(prober, Target, null, options with { Ttl = 20 })));

        Assert.All(hosts, h => Assert.Equal(3, h.PacketsReceived));
        Assert.All(hosts, h => Assert.Equal(0, h.Duplicates));
    }

    // 3. An answered probe without a cookie must never be matched again (as a duplicate or otherwise).
    [Fact]
    public async Task ASecondReplyToAProbeWithoutCookieIsNotCountedAsADuplicate()
    {
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1)), FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(2))]);
        using var prober = new Prober(fake, fake.Clock);

        var host = await VirtualTime.Run(fake.Clock, Ping.PingAsync(prober, Target, null, Options(2, intervalSeconds: 0.1) with { Payload = [9, 9, 9] }));

        Assert.Equal(2, host.PacketsReceived);
        Assert.Equal(0, host.Duplicates);
    }

    // 4. Breaking out of a sweep over channel input disposed the enumerator while its read was pending.
    [Fact]
    public async Task BreakingOutOfASweepOverChannelInputNeverFails()
    {
        for (var round = 0; round < 100; round++)
        {
            using var fake = new FakeTransport();
            using var prober = new Prober(fake, fake.Clock);
            var input = Channel.CreateUnbounded<string>();
            input.Writer.TryWrite("192.0.2.1");
            using var sweep = new MultiPing(_ => prober, new MultiPingOptions { Count = 1, Rate = 0 }, fake.Clock);

            var first = await VirtualTime.Run(fake.Clock, Task.Run(async () =>
            {
                await foreach (var r in sweep.RunAsync(input.Reader.ReadAllAsync()))
                {
                    return r;
                }
                return null;
            }));

            Assert.NotNull(first?.Host);
        }
    }

    // 5. Per-host RTT storage was allocated for Count up front: -Count 2147483647 threw OutOfMemoryException.
    [Fact]
    public async Task AHugeCountCostsOnlyWhatWasSent()
    {
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);
        using var cts = new CancellationTokenSource();
        var seen = 0;

        var run = Task.Run(async () =>
        {
            await foreach (var reply in Ping.StreamAsync(prober, Target, Options(int.MaxValue, intervalSeconds: 0.01), cts.Token))
            {
                if (++seen == 5)
                {
                    await cts.CancelAsync();
                }
            }
        });

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => VirtualTime.Run(fake.Clock, run));
        Assert.Equal(5, seen);
        var summary = await VirtualTime.Run(fake.Clock, Ping.PingAsync(prober, Target, null, Options(3) with { Count = 3 }));
        Assert.Equal(3, summary.PacketsReceived);
    }

    // 5. A slow consumer must slow the sweep, not pile up finished hosts.
    [Fact]
    public async Task ASweepRunsNoFurtherAheadOfItsConsumerThanTheThrottle()
    {
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);
        using var sweep = new MultiPing(_ => prober, new MultiPingOptions { Count = 1, Rate = 0, ThrottleLimit = 32 }, fake.Clock);
        var results = sweep.RunAsync(Targets("192.0.2.0/24")).GetAsyncEnumerator();

        Assert.True(await VirtualTime.Run(fake.Clock, results.MoveNextAsync().AsTask()));
        // The consumer holds its first result and takes no more while a lot of time passes.
        await VirtualTime.Pass(fake.Clock, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(100));

        Assert.InRange(fake.SentCount, 1, 32);
        await results.DisposeAsync();
    }

    // 8. A 128-bit shift wrapped: ::/0 expanded to one address.
    [Fact]
    public void TheWholeIPv6SpaceIsMoreThanOneAddress()
    {
        var everything = SweepTarget.Parse("::/0", allowHuge: true);

        Assert.Equal(UInt128.MaxValue, everything.Count);
        Assert.Equal(["::", "::1", "::2"], everything.Addresses().Take(3).Select(a => a.ToString()));
        Assert.Equal(2, SweepTarget.Parse("2001:db8::/127").Addresses().Count());
    }

    // 10. A large timeout overflowed when converted to ticks and expired at once.
    [Fact]
    public async Task AVeryLongTimeoutIsAFarDeadlineNotAPastOne()
    {
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake, fake.Clock);
        using var cts = new CancellationTokenSource();
        var outcomes = 0;

        var run = Task.Run(async () =>
        {
            await foreach (var reply in Ping.StreamAsync(prober, Target, Options(1) with { Timeout = TimeSpan.MaxValue }, cts.Token))
            {
                outcomes++;
            }
        });
        fake.WaitForSent(1);
        await VirtualTime.Pass(fake.Clock, TimeSpan.FromDays(20), TimeSpan.FromDays(1));
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Equal(0, outcomes);
    }

    // 10. A sweep sent a whole batch through the first host's prober, wrong once a family has two.
    [Fact]
    public async Task EachHostsProbesGoThroughItsOwnProber()
    {
        using var fakeA = new FakeTransport();
        using var fakeB = new FakeTransport(clock: fakeA.Clock);
        using var a = new Prober(fakeA, fakeA.Clock);
        using var b = new Prober(fakeB, fakeA.Clock);
        var calls = 0;
        using var sweep = new MultiPing(_ => Interlocked.Increment(ref calls) % 2 == 0 ? a : b,
            new MultiPingOptions { Count = 1, Rate = 0 }, fakeA.Clock);

        var results = await VirtualTime.Run(fakeA.Clock, SweepAll(sweep, Targets("192.0.2.0/25")));

        Assert.Equal(126, results.Count(r => r.Host!.IsAlive));
        Assert.Equal(63, fakeA.SentCount);
        Assert.Equal(63, fakeB.SentCount);
    }

    // 13. Dead hosts held the 4,096 default places for their whole timeout: a sparse /16 took 16 timeouts.
    [Fact]
    public async Task ASparseSlash16AtRateZeroTakesAboutOneTimeoutWithTheDefaultThrottle()
    {
        using var fake = new FakeTransport(echo => echo.Destination.GetAddressBytes()[3] == 1 ? [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1))] : []);
        using var prober = new Prober(fake, fake.Clock);
        using var sweep = new MultiPing(_ => prober, new MultiPingOptions { Count = 1, Rate = 0, Timeout = TimeSpan.FromSeconds(0.5) }, fake.Clock);

        var run = SweepAll(sweep, Targets("198.18.0.0/16"));
        // With the clock standing still no dead host's timeout can free its place: every host must still be
        // probed, so the sweep takes one timeout, not one per 4,096 hosts.
        fake.WaitForSent(65_534, TimeSpan.FromMinutes(2));
        var results = await VirtualTime.Run(fake.Clock, run, step: TimeSpan.FromMilliseconds(10), realLimit: TimeSpan.FromMinutes(3));

        Assert.Equal(65_534, results.Count);
        Assert.Equal(256, results.Count(r => r.Host!.IsAlive));
        Assert.All(fake.Sent, e => Assert.Equal(TimeSpan.Zero, e.SentAt - fake.Sent[0].SentAt));
    }

    // 14. Whether a duplicate of the last probe counted depended on timing. The rule: a duplicate counts
    // when it arrived before the host's last outcome, so a duplicate of the last probe never does.
    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    public async Task DuplicatesCountByWhenTheyArrivedNotByWhenTheyWereRead(int readBatch)
    {
        // Probe 1 is answered at 1 ms and copied at 150 ms (before probe 2's answer at 201 ms); probe 2 is
        // copied at 202 ms, after the host's last outcome.
        using var fake = new FakeTransport(echo => echo.Sequence == 1
            ? [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1)), FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(150))]
            : [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1)), FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(2))]) { ReceiveCapacity = readBatch };
        using var prober = new Prober(fake, fake.Clock);

        // Big virtual steps: the loop reads late and in bulk, yet the count is the same.
        var host = await VirtualTime.Run(fake.Clock, Ping.PingAsync(prober, Target, null, Options(2, intervalSeconds: 0.2)),
            step: TimeSpan.FromMilliseconds(50));

        Assert.Equal(2, host.PacketsReceived);
        Assert.Equal(1, host.Duplicates);
    }

    [Fact]
    public async Task AReplyReadAfterTheDeadlineButArrivedBeforeItStillCounts()
    {
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(90))]);
        using var prober = new Prober(fake, fake.Clock);

        // One virtual step of a whole second: the loop reads the reply long after its 100 ms deadline.
        var host = await VirtualTime.Run(fake.Clock, Ping.PingAsync(prober, Target, null, Options(1, timeoutSeconds: 0.1)),
            step: TimeSpan.FromSeconds(1));

        Assert.True(host.IsAlive);
        Assert.Equal(90, host.Rtts[0], 6);
    }

    [Fact]
    public async Task IPv6ProbesAndErrorsMatchOverTheFakeToo()
    {
        var target = IPAddress.Parse("2001:db8::10");
        var router = IPAddress.Parse("2001:db8::fe");
        using var fake = new FakeTransport(echo => echo.Sequence == 2
            ? [FakeTransport.Error(echo, TimeSpan.FromMilliseconds(3), router, IcmpTypes.V6TimeExceeded, 0, quotedTtl: 1)]
            : [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(4))], IcmpFamily.IPv6);
        using var prober = new Prober(fake, fake.Clock);

        var replies = await VirtualTime.Run(fake.Clock, Task.Run(async () =>
        {
            var list = new List<Reply>();
            await foreach (var r in Ping.StreamAsync(prober, target, Options(3, intervalSeconds: 0.01)))
            {
                list.Add(r);
            }
            return list;
        }));

        Assert.Equal([IcmpStatus.Success, IcmpStatus.TimeExceeded, IcmpStatus.Success], replies.OrderBy(r => r.Sequence).Select(r => r.Status));
        Assert.Equal(router.ToString(), replies.Single(r => r.Sequence == 2).Source);
        Assert.Equal(4, replies.Single(r => r.Sequence == 1).Rtt!.Value, 6);
    }

    [Fact]
    public async Task TheDeadlineQueueFollowsProbesInFlightNotProbesSentWithinTheTimeout()
    {
        // Issue 14 (5): an hour's timeout, every probe answered at once: the queue kept an entry per probe sent.
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.Zero)]);
        using var prober = new Prober(fake, fake.Clock);
        var recorder = new Recorder();
        var batch = new ProbeSpec[64];
        const int Rounds = 320;
        for (var round = 0; round < Rounds; round++)
        {
            for (var i = 0; i < batch.Length; i++)
            {
                batch[i] = Spec(fake, Target, TimeSpan.FromHours(1), (ushort)((round * batch.Length) + i));
            }
            prober.Send(batch, recorder);
            var answered = (round + 1) * batch.Length;
            var limit = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (recorder.CompletedCount < answered)
            {
                Assert.True(DateTime.UtcNow < limit, $"{recorder.CompletedCount} of {answered} answered");
                await Task.Delay(1);
            }
        }

        Assert.All(recorder.Completed, r => Assert.Equal(IcmpStatus.Success, r.Status));
        Assert.Equal(0, prober.InFlight);
        // 20,480 probes sent within the timeout, never more than 64 in flight.
        Assert.InRange(prober.DeadlinesQueued, 0, 2 * Prober.DeadlineCompactionFloor);
        Assert.InRange(prober.DeadlineCompactions, 1, Rounds);
    }

    [Fact]
    public void ABatchWithoutRoomForAllItsProbesIsNotSentAtAll()
    {
        // Issue 16: the scheduler sends each batch with TrySendBatch and waits (SendAsync) only when it says no room.
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake, fake.Clock);
        var recorder = new Recorder();
        var batch = new ProbeSpec[Prober.MaxBatch];
        var sequence = 0;
        void Fill(int count)
        {
            for (var i = 0; i < count; i++)
            {
                batch[i] = Spec(fake, Target, TimeSpan.FromHours(1), (ushort)++sequence);
            }
        }
        for (var sent = 0; sent < Prober.MaxSlots - 10; sent += Prober.MaxBatch)
        {
            var take = Math.Min(Prober.MaxBatch, Prober.MaxSlots - 10 - sent);
            Fill(take);
            Assert.True(prober.TrySendBatch(batch.AsSpan(0, take), recorder));
        }
        Assert.Equal(Prober.MaxSlots - 10, fake.SentCount);

        Fill(Prober.MaxBatch);
        Assert.False(prober.TrySendBatch(batch, recorder));
        Assert.Equal(Prober.MaxSlots - 10, fake.SentCount);
        Assert.Equal(Prober.MaxSlots - 10, prober.InFlight);

        Assert.True(prober.TrySendBatch(batch.AsSpan(0, 10), recorder));
        Assert.Equal(Prober.MaxSlots, fake.SentCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => prober.TrySendBatch(new ProbeSpec[Prober.MaxBatch + 1], recorder));
    }

    [Fact]
    public void TheSweepsPerBatchSendPathIsSynchronousAndCompiledOptimisedFromItsFirstCall()
    {
        // Issue 16: an async method's MoveNext is compiled tier-0 whatever the method's attribute says, and a /16 is
        // 1,024 batches in 64 rounds where the /24 before it was 4 in one: the scheduler's and the prober's async
        // send methods were recompiled twice in the middle of a session's first /16, on the cores the senders use.
        const BindingFlags Any = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        var round = typeof(ProbeScheduler).GetNestedType("SendRound", BindingFlags.NonPublic)!;
        MethodInfo[] path =
        [
            typeof(Prober).GetMethod(nameof(Prober.TrySendBatch))!,
            typeof(ProbeScheduler).GetMethod("SendAsync", Any)!,
            typeof(ProbeScheduler).GetMethod("SendBatches", Any)!,
            round.GetMethod("Send", Any)!,
            round.GetMethod("SendWhileRoom", Any)!,
            round.GetMethod("Help", Any)!,
        ];
        Assert.All(path, method =>
        {
            Assert.True(method.MethodImplementationFlags.HasFlag(MethodImplAttributes.AggressiveOptimization), method.Name);
            Assert.Null(method.GetCustomAttribute<System.Runtime.CompilerServices.AsyncStateMachineAttribute>());
        });
    }

    [Fact]
    public void TheReceivePathIsCompiledOptimisedFromItsFirstCall()
    {
        // Issue 16: the receive loop's entry points were AggressiveOptimization but what they call per reply was not
        // (too large to inline), so those ran tier-0, then instrumented code: a /24 warm-up of a sparse block reads 3
        // replies, and the /16 after it had them recompiled twice mid-call, beside the senders on the same cores.
        const BindingFlags Any = BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
        var engine = typeof(Prober).Assembly;
        MethodInfo Method(string type, string name) => engine.GetType(type, throwOnError: true)!.GetMethods(Any).Single(m => m.Name == name);
        MethodInfo[] path =
        [
            Method("IcmpTools.Engine.Sockets.RawSocketTransport", "ReadSockAddr"),
            Method("IcmpTools.Engine.Sockets.RawSocketTransport", "ReadControl"),
            Method("IcmpTools.Engine.Sockets.RawSocketTransport", "WaitReadable"),
            Method("IcmpTools.Engine.Sockets.RawSocketTransport", "DrainStamps"),
            Method("IcmpTools.Engine.Sockets.DatagramSocketTransport", "ReceiveReplies"),
            Method("IcmpTools.Engine.Sockets.DatagramSocketTransport", "WaitReady"),
            Method("IcmpTools.Engine.Sockets.DatagramFraming", "TryReadReply"),
            Method("IcmpTools.Engine.Packets.IcmpParser", "TryParseV4Icmp"),
            Method("IcmpTools.Engine.Packets.IcmpParser", "TryReadHeader"),
            Method("IcmpTools.Engine.Packets.IcmpParser", "ReadEcho"),
            Method("IcmpTools.Engine.Packets.ProbeCookie", "TryRead"),
            Method("IcmpTools.Engine.Probing.Prober", "NextTimeoutMilliseconds"),
            Method("IcmpTools.Engine.Probing.Prober", "StatusOf"),
            Method("IcmpTools.Engine.Probing.Prober", "Rtt"),
            Method("IcmpTools.Engine.Probing.Prober", "RentBatch"),
            Method("IcmpTools.Engine.Sockets.EthernetRoutes", "get_Current"),
            Method("IcmpTools.Engine.Sockets.EthernetRoutes", "Changed"),
        ];
        Assert.All(path, method => Assert.True(method.MethodImplementationFlags.HasFlag(MethodImplAttributes.AggressiveOptimization),
            $"{method.DeclaringType!.Name}.{method.Name}"));
    }

    [Fact]
    public void ADeadBlockLeavesTheDeadlineQueueUnswept()
    {
        // Issue 16: a sparse /16's probes leave by their deadline, so every entry stays live until it is due; the
        // queue was swept at every doubling (here at 1,025, 2,049, 4,097 and 8,193 entries) to drop nothing.
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake, fake.Clock);
        var recorder = new Recorder();
        var batch = new ProbeSpec[64];
        const int Rounds = 256;
        for (var round = 0; round < Rounds; round++)
        {
            for (var i = 0; i < batch.Length; i++)
            {
                batch[i] = Spec(fake, Target, TimeSpan.FromHours(1), (ushort)((round * batch.Length) + i));
            }
            prober.Send(batch, recorder);
        }

        Assert.Equal(Rounds * batch.Length, prober.InFlight);
        Assert.Equal(Rounds * batch.Length, prober.DeadlinesQueued);
        Assert.Equal(0, prober.DeadlineCompactions);
        Assert.Equal(0, recorder.CompletedCount);
    }

    [Fact]
    public async Task AnIntervalBeyondFortyNineDaysIsWaitedOutNotACrash()
    {
        // Issue 14 (8): Task.Delay refuses waits over 2^32-2 ms (49.7 days), and the scheduler died of it.
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);
        var start = fake.Clock.GetTimestamp();

        var host = await VirtualTime.Run(fake.Clock, Ping.PingAsync(prober, Target, null, Options(2, intervalSeconds: TimeSpan.FromDays(60).TotalSeconds)),
            step: TimeSpan.FromHours(1), realLimit: TimeSpan.FromMinutes(2));

        Assert.Equal(2, host.PacketsReceived);
        Assert.True(fake.Clock.GetElapsedTime(start) >= TimeSpan.FromDays(60));
        Assert.True(fake.Sent[1].SentAt - fake.Sent[0].SentAt >= TimeSpan.FromDays(60));
    }

    private sealed class Recorder : IProbeObserver
    {
        public readonly List<ProbeResult> Completed = new();
        public readonly List<ProbeResult> Answers = new();
        public readonly List<ProbeHandle> Handles = new();

        public void OnProbeCompleted(in ProbeResult result)
        {
            lock (Completed)
            {
                Completed.Add(result);
            }
        }

        public void OnDuplicate(in ProbeResult result)
        {
        }

        public void OnAnswer(in ProbeResult result)
        {
            lock (Answers)
            {
                Answers.Add(result);
            }
        }

        public void OnProbeSent(in ProbeHandle handle, long token)
        {
            lock (Handles)
            {
                Handles.Add(handle);
            }
        }

        public int CompletedCount
        {
            get
            {
                lock (Completed)
                {
                    return Completed.Count;
                }
            }
        }
    }

    private static ProbeSpec Spec(FakeTransport fake, IPAddress destination, TimeSpan timeout, ushort sequence = 1) => new()
    {
        Destination = IpKey.FromAddress(destination),
        Identifier = 4242,
        Sequence = sequence,
        PayloadSize = 56,
        Ttl = 64,
        TimeoutTicks = (long)(timeout.TotalSeconds * fake.Clock.TimestampFrequency),
    };

    private static async Task Until(FakeTransport fake, Func<bool> condition, TimeSpan step)
    {
        var limit = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < limit, "the condition never came true");
            fake.Clock.Advance(step);
            await VirtualTime.Settle(fake.Clock);
        }
    }

    [Fact]
    public async Task ACancelledProbeReportsNothingAndFreesItsSlot()
    {
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake, fake.Clock);
        var recorder = new Recorder();

        prober.Send([Spec(fake, Target, TimeSpan.FromSeconds(1))], recorder);
        var handle = Assert.Single(recorder.Handles);
        Assert.True(handle.IsPending);
        Assert.True(handle.Cancel());
        Assert.False(handle.Cancel());
        fake.Clock.Advance(TimeSpan.FromSeconds(5));
        // Settled: the receive loop has fired every deadline up to now and gone back to sleep.
        await VirtualTime.Settle(fake.Clock);

        Assert.Equal(0, recorder.CompletedCount);
        Assert.Equal(0, prober.InFlight);
    }

    [Fact]
    public async Task AMovedDeadlineDecidesWhenTheProbeTimesOut()
    {
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake, fake.Clock);
        var recorder = new Recorder();
        var start = fake.Clock.GetTimestamp();

        prober.Send([Spec(fake, Target, TimeSpan.FromSeconds(10)), Spec(fake, Target, TimeSpan.FromSeconds(1), 2)], recorder);
        // The first sooner (traceroute's adaptive wait), the second later.
        Assert.True(recorder.Handles[0].SetDeadline(start + (long)(0.2 * fake.Clock.TimestampFrequency)));
        Assert.True(recorder.Handles[1].SetDeadline(start + (long)(3 * fake.Clock.TimestampFrequency)));
        await Until(fake, () => recorder.CompletedCount == 2, TimeSpan.FromMilliseconds(10));

        var bySequence = recorder.Completed.ToDictionary(r => r.Sequence, r => fake.Clock.GetElapsedTime(start, r.EventTimestamp).TotalSeconds);
        Assert.Equal(0.2, bySequence[1], 3);
        Assert.Equal(3, bySequence[2], 3);
        Assert.All(recorder.Completed, r => Assert.Equal(IcmpStatus.TimedOut, r.Status));
    }

    [Fact]
    public async Task ACollectingProbeHearsEveryResponderUntilItsDeadline()
    {
        var broadcast = IPAddress.Parse("192.0.2.255");
        using var fake = new FakeTransport(echo =>
        [
            FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(2), from: IPAddress.Parse("192.0.2.1")),
            FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(5), from: IPAddress.Parse("192.0.2.2")),
            FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(9), from: IPAddress.Parse("192.0.2.3")),
        ]);
        using var prober = new Prober(fake, fake.Clock);
        var recorder = new Recorder();
        var spec = Spec(fake, broadcast, TimeSpan.FromMilliseconds(100));
        spec.Mode = ProbeMode.Collect;
        spec.AnyResponder = true;

        prober.Send([spec], recorder);
        await Until(fake, () => recorder.CompletedCount == 1, TimeSpan.FromMilliseconds(5));

        Assert.Equal(["192.0.2.1", "192.0.2.2", "192.0.2.3"], recorder.Answers.Select(a => a.Responder.ToAddress(IcmpFamily.IPv4).ToString()));
        var done = Assert.Single(recorder.Completed);
        Assert.Equal(IcmpStatus.Success, done.Status);
        Assert.Equal(3, done.Answers);
    }

    [Fact]
    public async Task MessagesNoProbeClaimedReachTheUnclaimedSubscribers()
    {
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1), from: IPAddress.Parse("192.0.2.99"))]);
        using var prober = new Prober(fake, fake.Clock);
        var seen = new List<IpKey>();
        using var subscription = prober.SubscribeUnclaimed(new Sink(m => { lock (seen) { seen.Add(m.Responder); } }));

        var host = await VirtualTime.Run(fake.Clock, Ping.PingAsync(prober, Target, null, Options(1, timeoutSeconds: 0.05)));

        Assert.False(host.IsAlive);
        lock (seen)
        {
            Assert.Equal([IpKey.FromAddress(IPAddress.Parse("192.0.2.99"))], seen);
        }
    }

    private sealed class Sink(Action<IcmpMessage> action) : IMessageSink
    {
        public void OnMessage(in IcmpMessage message, ReadOnlySpan<byte> echoedPayload) => action(message);
    }

    [Fact]
    public async Task ASlotReusedManyTimesNeverTakesAnOlderProbesAnswerOrDeadline()
    {
        // Every probe is answered twice: at 1 ms and, much later, at 900 ms, long after its slot has been
        // reused by thousands of later probes. The late copy must neither answer the new occupant nor
        // count for anything but a duplicate of its own (already finished) probe.
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1)), FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(900))]);
        using var prober = new Prober(fake, fake.Clock);

        var host = await VirtualTime.Run(fake.Clock, Ping.PingAsync(prober, Target, null, Options(20_000, timeoutSeconds: 0.5, intervalSeconds: 0.0001)),
            step: TimeSpan.FromMilliseconds(5), realLimit: TimeSpan.FromMinutes(2));

        Assert.Equal(20_000, host.PacketsReceived);
        Assert.All(host.Rtts, rtt => Assert.Equal(1, rtt, 6));
    }

    // 2. A stale deadline of a slot's previous probe could close the probe that reused the slot.
    [Fact]
    public async Task AReusedSlotIsNeverTimedOutByItsPreviousProbesDeadline()
    {
        // The quick ping's probes are answered at once and their slots reused by the slow ping, whose answers
        // take 300 ms: the quick probes' 50 ms deadlines all fire while slow probes hold their slots.
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(echo.Ttl == 10 ? 1 : 300))]);
        using var prober = new Prober(fake, fake.Clock);
        var quick = Options(6_000, timeoutSeconds: 0.05, intervalSeconds: 0.00001) with { Ttl = 10 };
        var slow = Options(6_000, timeoutSeconds: 10, intervalSeconds: 0.00001) with { Ttl = 20 };

        var hosts = await VirtualTime.Run(fake.Clock, Task.WhenAll(
            Ping.PingAsync(prober, Target, null, quick), Ping.PingAsync(prober, Target, null, slow)),
            step: TimeSpan.FromMilliseconds(5), realLimit: TimeSpan.FromMinutes(2));

        Assert.Equal(6_000, hosts[0].PacketsReceived);
        Assert.Equal(6_000, hosts[1].PacketsReceived);
        Assert.All(hosts[1].Rtts, rtt => Assert.Equal(300, rtt, 6));
    }

    [Fact]
    public void AFlowStableProbeHoldsItsSumWhateverItsCookieAndSequence()
    {
        Span<byte> a = stackalloc byte[64];
        Span<byte> b = stackalloc byte[64];
        EchoRequestWriter.Write(a, IcmpFamily.IPv4, 1000, 1, new ProbeCookie(1, 2), 56, default, false, heldSum: 0x1234);
        EchoRequestWriter.Write(b, IcmpFamily.IPv4, 1000, 99, new ProbeCookie(0xDEADBEEF, 77), 56, default, false, heldSum: 0x1234);

        // The checksum field (and with it the first four bytes a balancer hashes) is the same.
        Assert.Equal(a[..4].ToArray(), b[..4].ToArray());
        Assert.Equal(0, InternetChecksum.Compute(a));
        Assert.Equal(0, InternetChecksum.Compute(b));
        Assert.Throws<ArgumentException>(() => EchoRequestWriter.Write(new byte[16], IcmpFamily.IPv4, 1, 1, default, 8, default, false, heldSum: 1));
    }
}
