using System.Management.Automation;
using IcmpTools.Engine.Models;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>Invoke-IcmpMultiPing through in-process PowerShell on loopback (127.0.0.0/8 answers for every address).</summary>
[Collection(SocketsGroup.Name)]
public sealed class InvokeIcmpMultiPingTests
{
    [SkippableFact]
    public void ABlockSkipsNetworkAndBroadcastAndFindsEveryHost()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Invoke-IcmpMultiPing 127.0.0.0/30 -Count 1");

        Assert.Empty(ps.Errors);
        var hosts = output.Select(o => (Host)o.BaseObject).ToList();
        Assert.Equal(["127.0.0.1", "127.0.0.2"], hosts.Select(h => h.Address).Order());
        Assert.All(hosts, h => Assert.True(h.IsAlive));
    }

    [SkippableFact]
    public void ALoopbackSlash20IsSweptCompletelyWithNoHostTwice()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Invoke-IcmpMultiPing 127.1.0.0/20 -Count 2 -IntervalSeconds 0.01 -Rate 0");

        Assert.Empty(ps.Errors);
        var hosts = output.Select(o => (Host)o.BaseObject).ToList();
        Assert.Equal(4094, hosts.Count);
        Assert.Equal(4094, hosts.Select(h => h.Address).Distinct().Count());
        Assert.All(hosts, h => Assert.Equal(2, h.PacketsReceived));
    }

    [SkippableFact]
    public void TargetsStreamFromThePipelineByValueAndByPropertyName()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("""
            '127.0.0.1', '::1' | Invoke-IcmpMultiPing -Count 1
            [pscustomobject]@{ IPAddress = '127.0.0.9' }, [pscustomobject]@{ Name = '127.0.0.10-127.0.0.11' } | Invoke-IcmpMultiPing -Count 1
            """);

        Assert.Empty(ps.Errors);
        Assert.Equal(["127.0.0.1", "127.0.0.10", "127.0.0.11", "127.0.0.9", "::1"],
            output.Select(o => ((Host)o.BaseObject).Address).Order(StringComparer.Ordinal));
    }

    [SkippableFact]
    public void BadTargetsAreOneErrorEachWithTheirOwnIdAndTheRestComplete()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Invoke-IcmpMultiPing 127.0.0.1, 127.0.0.9-127.0.0.3, 127.0.0.0/40, 'bad target', 0.0.0.0/0, 127.0.0.2 -Count 1");

        Assert.Equal(["127.0.0.1", "127.0.0.2"], output.Select(o => ((Host)o.BaseObject).Address).Order());
        var errors = ps.Errors.ToDictionary(e => (string)e.TargetObject, e => e);
        Assert.Equal(4, errors.Count);
        Assert.StartsWith(ErrorIds.InvalidRange, errors["127.0.0.9-127.0.0.3"].FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.StartsWith(ErrorIds.InvalidTarget, errors["127.0.0.0/40"].FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.StartsWith(ErrorIds.InvalidTarget, errors["bad target"].FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.StartsWith(ErrorIds.BlockTooLarge, errors["0.0.0.0/0"].FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal(ErrorCategory.LimitsExceeded, errors["0.0.0.0/0"].CategoryInfo.Category);
        Assert.Contains("-Force", errors["0.0.0.0/0"].Exception.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ProgressShowsHostsDoneOfTheTotalAliveAndRate()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Invoke-IcmpMultiPing 127.3.0.0/22 -Count 1 -Rate 2000");

        Assert.Equal(1022, output.Count);
        var running = ps.Progress.Where(p => p.RecordType == ProgressRecordType.Processing).ToList();
        Assert.NotEmpty(running);
        Assert.Matches(@"^\d+ of 1022 hosts done, \d+ alive, \d+ probes/s$", running[^1].StatusDescription);
        Assert.Equal(ProgressRecordType.Completed, ps.Progress[^1].RecordType);
    }

    [SkippableFact]
    public void StoppingASweepReturnsAtOnceAndLeavesNothingOpen()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();
        var output = new PSDataCollection<PSObject>();
        // Paced at 500 probes/s, this /16 would take over two minutes.
        using var pipeline = ps.Start("Invoke-IcmpMultiPing 127.4.0.0/16 -Count 2 -IntervalSeconds 1 -Rate 500", output);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (output.Count < 5 && waited.Elapsed < TimeSpan.FromSeconds(10))
        {
            Thread.Sleep(10);
        }
        Assert.True(output.Count >= 5, "no hosts streamed before the stop");

        // Stop must not wait for the sweep: it would run for over two minutes (longer on a slower machine),
        // so a stop that returns within a minute, with the pipeline Stopped and most hosts never written,
        // did not wait for it, whatever the machine's speed. How fast Ctrl+C returns is a bench figure.
        var stop = Task.Run(pipeline.Stop);
        Assert.True(stop.Wait(TimeSpan.FromSeconds(60)), "Stop did not return within a minute: it waited for the sweep");
        Assert.Equal(PSInvocationState.Stopped, pipeline.InvocationStateInfo.State);
        Assert.InRange(output.Count, 5, 65_533);
        // Only finished hosts were written: each with both of its probes answered.
        Assert.All(output, o => Assert.Equal(2, ((Host)o.BaseObject).PacketsReceived));
        Assert.Equal(0, Engine.Probing.ProberPool.LeasedCount);
    }

    [SkippableFact]
    public void TwoSweepsInTwoRunspacesEachGetExactlyTheirOwnReplies()
    {
        LabRequirement.RequireRoot();
        using var a = new PowerShellSession();
        using var b = new PowerShellSession();

        var sweeps = new[] { a, b }.Select(ps => Task.Run(() =>
            ps.Invoke("Invoke-IcmpMultiPing 127.2.0.0/22 -Count 3 -IntervalSeconds 0.01 -Rate 0").Select(o => (Host)o.BaseObject).ToList())).ToArray();
        Task.WaitAll(sweeps);

        foreach (var hosts in sweeps.Select(s => s.Result))
        {
            Assert.Equal(1022, hosts.Count);
            Assert.All(hosts, h =>
            {
                Assert.Equal(3, h.PacketsSent);
                Assert.Equal(3, h.PacketsReceived);
                Assert.Equal(0, h.Duplicates);
            });
        }
    }
}
