using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Probing;

/// <summary>The prober's matching, timing and bookkeeping, over a fake network (no packet leaves the process).</summary>
public sealed class ProberTests
{
    private static readonly IPAddress Target = IPAddress.Parse("192.0.2.10");
    private static readonly IPAddress Router = IPAddress.Parse("192.0.2.254");

    private static PingOptions Fast(int count, double timeoutSeconds = 0.3) => new()
    {
        Count = count,
        Interval = TimeSpan.Zero,
        Timeout = TimeSpan.FromSeconds(timeoutSeconds),
    };

    private static Task<List<Reply>> Stream(FakeTransport fake, Prober prober, PingOptions options) =>
        VirtualTime.Run(fake.Clock, Collect(prober, options));

    private static async Task<List<Reply>> Collect(Prober prober, PingOptions options)
    {
        var replies = new List<Reply>();
        await foreach (var reply in Ping.StreamAsync(prober, Target, options))
        {
            replies.Add(reply);
        }
        return replies;
    }

    private static Task<Host> PingVirtual(FakeTransport fake, Prober prober, PingOptions options) =>
        VirtualTime.Run(fake.Clock, Ping.PingAsync(prober, Target, null, options));

    [Fact]
    public async Task EveryProbeIsAnsweredAndMatchedToItsSequence()
    {
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(20))]);
        using var prober = new Prober(fake, fake.Clock);

        var host = await PingVirtual(fake, prober, Fast(5));

        Assert.Equal(5, host.PacketsSent);
        Assert.Equal(5, host.PacketsReceived);
        Assert.Equal(0, host.PacketLoss);
        Assert.True(host.IsAlive);
        // Virtual time: the RTT is the network's delay exactly, however loaded this machine is.
        Assert.All(host.Rtts, rtt => Assert.Equal(20, rtt, 6));
        Assert.Equal([1, 2, 3, 4, 5], fake.Sent.Select(s => (int)s.Sequence));
    }

    [Fact]
    public async Task LostProbesTimeOutAndCountAsLoss()
    {
        using var fake = new FakeTransport(echo => echo.Sequence % 2 == 0 ? [] : [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1))]);
        using var prober = new Prober(fake, fake.Clock);

        var replies = await Stream(fake, prober, Fast(6, 0.2));

        Assert.Equal(6, replies.Count);
        Assert.Equal([1, 3, 5], replies.Where(r => r.Status == IcmpStatus.Success).Select(r => r.Sequence).Order());
        Assert.Equal([2, 4, 6], replies.Where(r => r.Status == IcmpStatus.TimedOut).Select(r => r.Sequence).Order());
        Assert.All(replies.Where(r => r.Status == IcmpStatus.TimedOut), r => Assert.Null(r.Rtt));
    }

    [Fact]
    public async Task TimeoutFiresOnTimeWithoutPolling()
    {
        using var fake = new FakeTransport(_ => []);
        using var prober = new Prober(fake, fake.Clock);
        var started = fake.Clock.GetTimestamp();

        var replies = await Stream(fake, prober, Fast(1, 0.25));

        var reply = Assert.Single(replies);
        Assert.Equal(IcmpStatus.TimedOut, reply.Status);
        // The timeout is a deadline on the prober's clock, not a poll: never before 250 ms of virtual time.
        Assert.True(fake.Clock.GetElapsedTime(started).TotalMilliseconds >= 250);
    }

    [Fact]
    public async Task DuplicatesAreCountedApartNotAsReceived()
    {
        using var fake = new FakeTransport(echo =>
            [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1)), FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(5))]);
        using var prober = new Prober(fake, fake.Clock);

        var options = Fast(3) with { Interval = TimeSpan.FromMilliseconds(30) };
        var host = await PingVirtual(fake, prober, options);

        Assert.Equal(3, host.PacketsReceived);
        Assert.Equal(0, host.PacketLoss);
        Assert.Equal(2, host.Duplicates);
    }

    [Fact]
    public async Task ReorderedRepliesKeepTheirOwnRtt()
    {
        // The first probe is answered last: 80, 40, 5 ms.
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(echo.Sequence switch { 1 => 80, 2 => 40, _ => 5 }))]);
        using var prober = new Prober(fake, fake.Clock);

        var replies = await Stream(fake, prober, Fast(3));

        // With no interval all three leave at one virtual instant, so the delays alone order the replies:
        // the order below is checked for that premise, not for a sender that happens to keep pace.
        Assert.Single(fake.Sent.Select(s => s.SentAt).Distinct());
        Assert.Equal([3, 2, 1], replies.Select(r => r.Sequence));
        var bySeq = replies.ToDictionary(r => r.Sequence, r => r.Rtt!.Value);
        Assert.Equal(80, bySeq[1], 6);
        Assert.Equal(40, bySeq[2], 6);
        Assert.Equal(5, bySeq[3], 6);
    }

    [Fact]
    public async Task LateReplyAfterTimeoutIsNeitherSuccessNorDuplicate()
    {
        // The first probe's reply comes at 150 ms, 100 ms after its timeout, while the operation still runs:
        // the second probe was answered at 101 ms and the third leaves at 200 ms. Virtual time, moved only
        // when the engine is at rest, delivers the late reply to a running operation every time.
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(echo.Sequence == 1 ? 150 : 1))]);
        using var prober = new Prober(fake, fake.Clock);
        var options = Fast(3, 0.05) with { Interval = TimeSpan.FromMilliseconds(100) };

        var replies = await Stream(fake, prober, options);
        var host = await PingVirtual(fake, prober, options);

        // The premise: the third probe of the first run left after the late reply was due, so it came while the run was live.
        var firstRun = fake.Sent.Take(3).ToArray();
        Assert.True(firstRun[2].SentAt - firstRun[0].SentAt > TimeSpan.FromMilliseconds(150), $"third probe {firstRun[2].SentAt - firstRun[0].SentAt} after the first");
        Assert.Equal([1, 2, 3], replies.Select(r => r.Sequence).Order());
        var late = Assert.Single(replies, r => r.Sequence == 1);
        Assert.Equal(IcmpStatus.TimedOut, late.Status);
        Assert.Null(late.Rtt);
        Assert.All(replies.Where(r => r.Sequence != 1), r => Assert.Equal(IcmpStatus.Success, r.Status));
        Assert.Equal(2, host.PacketsReceived);
        Assert.Equal(0, host.Duplicates);
        Assert.Equal(1.0 / 3, host.PacketLoss, 10);
        Assert.All(host.Rtts, rtt => Assert.Equal(1, rtt, 6));
    }

    [Fact]
    public async Task RepliesFromAnotherAddressAreNotCounted()
    {
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1), from: IPAddress.Parse("192.0.2.66"))]);
        using var prober = new Prober(fake, fake.Clock);

        var host = await PingVirtual(fake, prober, Fast(2, 0.1));

        Assert.Equal(0, host.PacketsReceived);
    }

    [Fact]
    public async Task RepliesWithAForgedCookieOrBadChecksumAreIgnored()
    {
        using var fake = new FakeTransport(echo =>
        [
            FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(1), tamper: icmp => icmp[8] ^= 0xFF),
            new Delivery(TimeSpan.FromMilliseconds(2), FakeTransport.Reply(echo, TimeSpan.Zero).Datagram.Select((b, i) => i == 30 ? (byte)(b ^ 1) : b).ToArray(), echo.Destination),
            new Delivery(TimeSpan.FromMilliseconds(3), FakeTransport.Reply(echo, TimeSpan.Zero).Datagram[..23], echo.Destination),
        ]);
        using var prober = new Prober(fake, fake.Clock);

        var host = await PingVirtual(fake, prober, Fast(2, 0.1));

        Assert.Equal(0, host.PacketsReceived);
        Assert.Equal(IcmpStatus.TimedOut, host.Status);
    }

    [Fact]
    public async Task TwoOperationsWithTheSameIdAndSequenceGetOnlyTheirOwnReplies()
    {
        // The first operation's replies come fast, the second's slow: if matching went by (id, seq) alone,
        // the first would take the second's replies and the RTTs would cross.
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(echo.Ttl == 10 ? 5 : 90))]);
        using var prober = new Prober(fake, fake.Clock);
        var options = Fast(3, 1) with { Identifier = 777 };

        var fast = Ping.PingAsync(prober, Target, null, options with { Ttl = 10 });
        var slow = Ping.PingAsync(prober, Target, null, options with { Ttl = 20 });
        var hosts = await VirtualTime.Run(fake.Clock, Task.WhenAll(fast, slow));

        Assert.All(hosts[0].Rtts, rtt => Assert.Equal(5, rtt, 6));
        Assert.All(hosts[1].Rtts, rtt => Assert.Equal(90, rtt, 6));
        Assert.Equal(3, hosts[0].PacketsReceived);
        Assert.Equal(3, hosts[1].PacketsReceived);
    }

    [Fact]
    public async Task AnIcmpErrorQuotingTheProbeEndsItWithThatStatus()
    {
        using var fake = new FakeTransport(echo => [FakeTransport.Error(echo, TimeSpan.FromMilliseconds(2), Router, 11, 0)]);
        using var prober = new Prober(fake, fake.Clock);

        var replies = await Stream(fake, prober, Fast(1));

        var reply = Assert.Single(replies);
        Assert.Equal(IcmpStatus.TimeExceeded, reply.Status);
        Assert.Equal(Router.ToString(), reply.Source);
        Assert.Equal(11, reply.Type);
    }

    [Fact]
    public async Task AnErrorQuotingOnlyEightBytesIsStillMatchedByIdentifierAndSequence()
    {
        using var fake = new FakeTransport(echo => [FakeTransport.Error(echo, TimeSpan.FromMilliseconds(2), Router, 3, 1, quotedIcmpBytes: 8)]);
        using var prober = new Prober(fake, fake.Clock);

        var host = await PingVirtual(fake, prober, Fast(1));

        Assert.Equal(IcmpStatus.DestinationUnreachable, host.Status);
        Assert.Equal(Router.ToString(), host.StatusSource);
    }

    /// <summary>The probe as another process would have sent it: the same header, its own cookie.</summary>
    private static SentEcho Foreign(SentEcho echo) =>
        echo with { Payload = echo.Payload.Select((b, i) => i < 4 ? (byte)(b ^ 0x5A) : b).ToArray() };

    [Fact]
    public async Task AForgedTimeExceededWithAForeignCookieDoesNotTurnALiveHostDead()
    {
        // Issue 14 (4): the error quotes our identifier and sequence but a cookie that is not ours.
        using var fake = new FakeTransport(echo =>
        [
            FakeTransport.Error(Foreign(echo), TimeSpan.FromMilliseconds(1), Router, 11, 0),
            FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(2)),
        ]);
        using var prober = new Prober(fake, fake.Clock);

        var host = await PingVirtual(fake, prober, Fast(3) with { Identifier = 777 });

        Assert.Equal(3, host.PacketsReceived);
        Assert.Equal(IcmpStatus.Success, host.Status);
        Assert.All(host.Rtts, rtt => Assert.Equal(2, rtt, 6));
    }

    [Fact]
    public async Task TwoProcessesPingingWithOneIdKeepTheirOwnErrors()
    {
        // Another process pings the same target with the same -Id and sequences; the router's errors about its
        // probes reach our raw socket too. Ours are refused (Destination Unreachable) a little later.
        using var fake = new FakeTransport(echo =>
        [
            FakeTransport.Error(Foreign(echo), TimeSpan.FromMilliseconds(1), Router, 11, 0),
            FakeTransport.Error(echo, TimeSpan.FromMilliseconds(3), Router, 3, 13),
        ]);
        using var prober = new Prober(fake, fake.Clock);

        var replies = await Stream(fake, prober, Fast(2) with { Identifier = 777 });

        Assert.Equal(2, replies.Count);
        Assert.All(replies, r => Assert.Equal(IcmpStatus.DestinationUnreachable, r.Status));
    }

    [Fact]
    public async Task AnErrorQuotingAnExactPayloadIsMatchedByItsBytes()
    {
        // An exact payload carries no cookie, but its first 8 bytes, quoted, read as one: they must still match.
        var payload = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        using var fake = new FakeTransport(echo =>
        [
            FakeTransport.Error(Foreign(echo), TimeSpan.FromMilliseconds(1), Router, 11, 0),
            FakeTransport.Error(echo, TimeSpan.FromMilliseconds(2), Router, 3, 1),
        ]);
        using var prober = new Prober(fake, fake.Clock);

        var host = await PingVirtual(fake, prober, Fast(1) with { Payload = payload });

        Assert.Equal(IcmpStatus.DestinationUnreachable, host.Status);
        Assert.Equal(Router.ToString(), host.StatusSource);
    }

    [Fact]
    public async Task AnExactPayloadWithoutCookieIsMatchedByItsEcho()
    {
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);

        var host = await PingVirtual(fake, prober, Fast(3) with { Payload = [1, 2, 3] });

        Assert.Equal(3, host.PacketsReceived);
        Assert.All(fake.Sent, s => Assert.Equal(new byte[] { 1, 2, 3 }, s.Payload));
    }

    [Fact]
    public async Task AFailedSendIsAStatusNotAnException()
    {
        using var fake = new FakeTransport { SendError = _ => 101 };
        using var prober = new Prober(fake, fake.Clock);

        var host = await PingVirtual(fake, prober, Fast(2));

        Assert.Equal(IcmpStatus.SendFailed, host.Status);
        Assert.Equal(2, host.PacketsSent);
        Assert.Equal(1, host.PacketLoss);
    }

    [Fact]
    public async Task ADisposedProberIsNotKeptAliveByAThreadThatSentOnIt()
    {
        // A PowerShell pipeline thread lives on after a command; nothing it touched may pin the prober
        // (a 131,072-slot table and a 4 MB receive buffer) once the last lease is gone. (The pool threads that
        // sent live on too. Awaited, not blocked on: a thread blocked inside the test's virtual-time context
        // counts as engine work that never ends, so VirtualTime would never see the engine at rest.)
        var probers = await SendOnceAndDispose();
        // A continuation of the finished ping may still be on its way out of the thread pool on a loaded
        // machine: collect a few times, letting it finish in between. A real leak stays alive through all.
        for (var i = 0; i < 20 && probers.IsAlive; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            if (probers.IsAlive)
            {
                await Task.Delay(50);
            }
        }
        Assert.False(probers.IsAlive);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task<WeakReference> SendOnceAndDispose()
    {
        var fake = new FakeTransport();
        var prober = new Prober(fake, fake.Clock);
        await PingVirtual(fake, prober, Fast(1));
        prober.Dispose();
        return new WeakReference(prober);
    }

    [Fact]
    public async Task MoreProbesThanSequenceNumbersStillMatchExactly()
    {
        // 70,000 probes to one address: sequence numbers wrap past 65,535 while earlier probes are in
        // flight; only the cookie tells them apart.
        using var fake = new FakeTransport(echo => [FakeTransport.Reply(echo, TimeSpan.FromMilliseconds(echo.Sequence % 7))]);
        using var prober = new Prober(fake, fake.Clock);

        var host = await PingVirtual(fake, prober, Fast(70_000, 5));

        Assert.Equal(70_000, host.PacketsReceived);
        Assert.Equal(0, host.Duplicates);
    }
}
