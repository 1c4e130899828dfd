using System.Globalization;
using System.Diagnostics;
using System.Management.Automation;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Probing;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>Test-IcmpEcho through in-process PowerShell, on loopback with real raw sockets (needs root, as CI is).</summary>
[Collection(SocketsGroup.Name)]
public sealed class TestIcmpEchoTests
{
    [SkippableFact]
    public void PingingLoopbackGivesOneHostWithEveryReply()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Test-IcmpEcho 127.0.0.1 -Count 3 -IntervalSeconds 0.05");

        Assert.Empty(ps.Errors);
        var host = Assert.IsType<Host>(Assert.Single(output).BaseObject);
        Assert.Equal("127.0.0.1", host.Address);
        Assert.Equal(3, host.PacketsSent);
        Assert.Equal(3, host.PacketsReceived);
        Assert.True(host.IsAlive);
        Assert.InRange(host.AvgRtt ?? -1, 0.0001, 50);
        Assert.Equal(IcmpFamily.IPv4, host.Family);
    }

    [SkippableFact]
    public void PerReplyStreamsEachReplyWithItsSequence()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Test-IcmpEcho ::1 -Count 2 -IntervalSeconds 0.05 -PerReply -BufferSize 100");

        Assert.Empty(ps.Errors);
        var replies = output.Select(o => Assert.IsType<Reply>(o.BaseObject)).ToList();
        Assert.Equal([1, 2], replies.Select(r => r.Sequence).Order());
        Assert.All(replies, r =>
        {
            Assert.Equal(IcmpStatus.Success, r.Status);
            Assert.Equal("::1", r.Source);
            Assert.Equal(108, r.BytesReceived);
            Assert.Equal(IcmpFamily.IPv6, r.Family);
            Assert.Equal(64, r.Ttl);
        });
    }

    [SkippableFact]
    public void QuietGivesOneBoolPerTarget()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Test-IcmpEcho 127.0.0.1,::1 -Count 1 -Quiet");

        Assert.Equal([true, true], output.Select(o => (bool)o.BaseObject));
    }

    [SkippableFact]
    public void TargetsComeByValueAndByPropertyNameAndArePingedConcurrently()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("""
            '127.0.0.1', '127.0.0.2' | Test-IcmpEcho -Count 3 -IntervalSeconds 0.3
            [pscustomobject]@{ ComputerName = '127.0.0.3' }, [pscustomobject]@{ Address = 'localhost' } | Test-IcmpEcho -Count 1
            """);

        Assert.Empty(ps.Errors);
        var hosts = output.Select(o => (Host)o.BaseObject).ToList();
        Assert.Equal(["127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.3"], hosts.Select(h => h.Address).Order());
        Assert.Equal("localhost", hosts.Single(h => h.Name is not null).Name);
        Assert.All(hosts, h => Assert.True(h.IsAlive));

        // At once, shown by the order of the replies rather than by a stopwatch: each target's first reply
        // comes before either target's second one, 2 s later. One after the other, the second target would
        // only start after the first target's last reply; a loaded machine would have to stall a target's
        // start by 2 s to break this.
        var replies = ps.Invoke("'127.0.0.1', '127.0.0.2' | Test-IcmpEcho -Count 2 -IntervalSeconds 2 -PerReply")
            .Select(o => (Reply)o.BaseObject).ToList();
        Assert.Empty(ps.Errors);
        Assert.Equal(4, replies.Count);
        Assert.All(replies, r => Assert.Equal(IcmpStatus.Success, r.Status));
        var firsts = replies.GroupBy(r => r.Destination).Select(g => g.Min(r => r.Timestamp)).ToList();
        var seconds = replies.GroupBy(r => r.Destination).Select(g => g.Max(r => r.Timestamp)).ToList();
        Assert.Equal(2, firsts.Count);
        Assert.True(firsts.Max() < seconds.Min(), $"first replies at {string.Join(", ", firsts.Select(t => t.ToString("O", CultureInfo.InvariantCulture)))}, second replies at {string.Join(", ", seconds.Select(t => t.ToString("O", CultureInfo.InvariantCulture)))}");
    }

    [SkippableFact]
    public void ManyPipedTargetsAreReadOnlyAsTheBoundOnTargetsInFlightLetsThemStart()
    {
        // Issue 14 (6): every piped target started at once (a task and a scheduler each). Each target here takes
        // 3 s (two probes 3 s apart), so by the first Host only the bound's worth of targets may have been read.
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("""
            $script:pulled = 0
            & { foreach ($i in 0..2999) { $script:pulled++; '127.{0}.{1}.1' -f [math]::Floor($i / 250), ($i % 250 + 1) } } |
                Test-IcmpEcho -Count 2 -IntervalSeconds 3 | Select-Object -First 1 | ForEach-Object { $script:pulled }
            """);

        Assert.Empty(ps.Errors);
        var pulled = (int)Assert.Single(output).BaseObject;
        Assert.InRange(pulled, 1, Commands.TestIcmpEchoCommand.MaxTargetsInFlight + 1);
    }

    [SkippableTheory]
    [InlineData("127.0.0.1")]
    [InlineData("::1")]
    public void EveryPerPacketOptionAtOnceStillGetsItsReplies(string target)
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke($"Test-IcmpEcho {target} -Source {target} -TrafficClass 16 -Ttl 9 -Id 4242 -Count 2 -IntervalSeconds 0.05 -PerReply");

        Assert.Empty(ps.Errors);
        var replies = output.Select(o => (Reply)o.BaseObject).ToList();
        Assert.Equal(2, replies.Count);
        Assert.All(replies, r =>
        {
            Assert.Equal(IcmpStatus.Success, r.Status);
            Assert.Equal(4242, r.Identifier);
            // The reply's TTL is the replier's own default, not the 9 the request left with.
            Assert.Equal(64, r.Ttl);
        });
    }

    [SkippableFact]
    public void TwoRunspacesPingingTheSameHostWithTheSameIdEachGetTheirOwnReplies()
    {
        LabRequirement.RequireRoot();
        using var a = new PowerShellSession();
        using var b = new PowerShellSession();

        var runs = new[] { a, b }.Select(ps => Task.Run(() =>
            ps.Invoke("Test-IcmpEcho 127.0.0.1 -Id 999 -Count 20 -IntervalSeconds 0.01 -PerReply").Select(o => (Reply)o.BaseObject).ToList())).ToArray();
        Task.WaitAll(runs);

        foreach (var replies in runs.Select(r => r.Result))
        {
            Assert.Equal(Enumerable.Range(1, 20), replies.Select(r => r.Sequence).Order());
            Assert.All(replies, r => Assert.Equal(IcmpStatus.Success, r.Status));
        }
    }

    [SkippableFact]
    public void AnUnusableSourceIsAnErrorPerTargetAndTheRestGoOn()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Test-IcmpEcho 127.0.0.1, ::1 -Count 1 -Source 127.0.0.1");

        var host = Assert.IsType<Host>(Assert.Single(output).BaseObject);
        Assert.Equal("127.0.0.1", host.Address);
        var error = Assert.Single(ps.Errors);
        Assert.StartsWith(ErrorIds.InvalidSourceAddress, error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal("::1", error.TargetObject);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
    }

    [SkippableFact]
    public void ASourceThatIsNotOursFailsEveryTargetWithItsName()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Test-IcmpEcho 127.0.0.1 -Count 1 -Source 198.18.99.99");

        Assert.Empty(output);
        var error = Assert.Single(ps.Errors);
        Assert.StartsWith(ErrorIds.InvalidSourceAddress, error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Contains("198.18.99.99", error.Exception.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void AFamilyMismatchIsATargetError()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Test-IcmpEcho 127.0.0.1 -IPv6 -Count 1");

        Assert.Empty(output);
        var error = Assert.Single(ps.Errors);
        Assert.StartsWith(ErrorIds.FamilyMismatch, error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal("127.0.0.1", error.TargetObject);
    }

    [SkippableFact]
    public void PayloadWithBufferSizeIsRefused()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        Assert.ThrowsAny<RuntimeException>(() => ps.Invoke("$ErrorActionPreference = 'Stop'; Test-IcmpEcho 127.0.0.1 -Payload 1,2,3 -BufferSize 8"));
        var output = ps.Invoke("Test-IcmpEcho 127.0.0.1 -Payload 1,2,3 -Count 1");
        Assert.True(((Host)Assert.Single(output).BaseObject).IsAlive);
    }

    [SkippableFact]
    public void StoppingAContinuousPingReturnsAtOnceAndClosesTheSockets()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();
        var output = new PSDataCollection<PSObject>();
        using var pipeline = ps.Start("Test-IcmpEcho 127.0.0.1 -Continuous -IntervalSeconds 0.05", output);
        var waited = Stopwatch.StartNew();
        while (output.Count < 3 && waited.Elapsed < TimeSpan.FromSeconds(5))
        {
            Thread.Sleep(10);
        }
        Assert.True(output.Count >= 3, "no replies streamed");
        Assert.True(ProberPool.OpenCount > 0);

        var clock = Stopwatch.StartNew();
        pipeline.Stop();
        var stopped = clock.Elapsed;

        // Stopping waits on no timeout and no interval: it returns as soon as the work notices the token.
        // The bound only catches a stop that waits for the pinging to end; how fast Ctrl+C returns on a
        // quiet machine is a figure for the benchmarks, not a wall-clock assertion on a shared one.
        Assert.True(stopped < TimeSpan.FromSeconds(5), $"Stop took {stopped.TotalMilliseconds} ms");
        Assert.Equal(PSInvocationState.Stopped, pipeline.InvocationStateInfo.State);
        Assert.All(output, o => Assert.Equal(IcmpStatus.Success, ((Reply)o.BaseObject).Status));
        Assert.Equal(0, ProberPool.LeasedCount);
    }
}
