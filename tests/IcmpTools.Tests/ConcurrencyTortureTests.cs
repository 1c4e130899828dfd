using System.Collections.ObjectModel;
using System.Management.Automation;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Probing;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// Eight runspaces ping, sweep and trace at once through the process's shared probers, in a lab namespace (its
/// routers and target, and its own loopback), while a second process pings the same target with the same
/// identifier. Every operation must get exactly its own answers: none stolen by another runspace or the other
/// process, none lost, none stuck. Only correctness is asserted; the time limits are minutes, for a hang.
/// </summary>
[Collection(SocketsGroup.Name)]
public sealed class ConcurrencyTortureTests(TraceLabFixture fixture) : IClassFixture<TraceLabFixture>
{
    private const int Id = 7777;
    private static readonly TimeSpan Stuck = TimeSpan.FromMinutes(3);

    private sealed record Run(string Script, Collection<PSObject> Output, IReadOnlyList<string> Errors);

    private Run InClient(string script)
    {
        var (output, errors) = fixture.InClient(script);
        return new Run(script, output, errors.Select(e => e.ToString()).ToList());
    }

    private static void AssertOwnReplies(Run run, string target, int count)
    {
        Assert.True(run.Errors.Count == 0, $"{run.Script}: {string.Join("; ", run.Errors)}");
        var replies = run.Output.Select(o => (Reply)o.BaseObject).ToList();
        // Exactly one answer per probe, each ours: nothing lost, nothing taken from another runspace or process.
        Assert.Equal(Enumerable.Range(1, count), replies.Select(r => r.Sequence).Order());
        Assert.All(replies, r =>
        {
            Assert.Equal(IcmpStatus.Success, r.Status);
            Assert.Equal(Id, r.Identifier);
            Assert.Equal(target, r.Source);
        });
    }

    private static void AssertSweep(Run run, int hosts, int count)
    {
        Assert.True(run.Errors.Count == 0, $"{run.Script}: {string.Join("; ", run.Errors)}");
        var found = run.Output.Select(o => (Host)o.BaseObject).ToList();
        Assert.Equal(hosts, found.Select(h => h.Address).Distinct().Count());
        Assert.All(found, h =>
        {
            Assert.Equal(count, h.PacketsSent);
            Assert.Equal(count, h.PacketsReceived);
            Assert.Equal(0, h.Duplicates);
        });
    }

    private static void AssertTrace(Run run)
    {
        Assert.True(run.Errors.Count == 0, $"{run.Script}: {string.Join("; ", run.Errors)}");
        var hops = run.Output.Select(o => o.BaseObject).OfType<Hop>().ToList();
        Assert.Equal([1, 2, 3, 4], hops.Select(h => h.Distance));
        Assert.Equal(["198.18.1.1", "198.18.2.2", "198.18.3.2", "198.18.4.2"], hops.Select(h => h.Address));
        Assert.Equal([IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.Success], hops.Select(h => h.Status));
    }

    [SkippableFact]
    public void EightRunspacesAndASecondProcessEachGetExactlyTheirOwnAnswers()
    {
        LabRequirement.RequireRoot();
        var lab = fixture.Lab;
        const int Count = 40;
        var ping = $"-Count {Count} -IntervalSeconds 0.01 -TimeoutSeconds 5 -Id {Id} -PerReply";
        var runs = new (string Script, Action<Run> Check)[]
        {
            ($"Test-IcmpEcho 198.18.4.2 {ping}", r => AssertOwnReplies(r, "198.18.4.2", Count)),
            ($"Test-IcmpEcho 198.18.4.2 {ping}", r => AssertOwnReplies(r, "198.18.4.2", Count)),
            ($"Test-IcmpEcho 127.0.0.1 {ping}", r => AssertOwnReplies(r, "127.0.0.1", Count)),
            ($"Test-IcmpEcho ::1 {ping}", r => AssertOwnReplies(r, "::1", Count)),
            ("Invoke-IcmpMultiPing 127.0.1.0/24 -Count 3 -IntervalSeconds 0.01 -TimeoutSeconds 5", r => AssertSweep(r, 254, 3)),
            ("Invoke-IcmpMultiPing 127.0.2.0/24 -Count 3 -IntervalSeconds 0.01 -TimeoutSeconds 5", r => AssertSweep(r, 254, 3)),
            ("Trace-IcmpRoute 198.18.4.2 -TimeoutSeconds 5", AssertTrace),
            ("Trace-IcmpRoute 198.18.4.2 -TimeoutSeconds 5", AssertTrace),
        };

        // Dedicated threads: each blocks in its namespace for the whole run.
        var inProcess = runs.Select(r => Task.Factory.StartNew(() => InClient(r.Script), CancellationToken.None,
            TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();
        var other = Task.Factory.StartNew(() => OutOfProcess.Run(lab.Name + "-c",
            $"Test-IcmpEcho 198.18.4.2 -Count 100 -IntervalSeconds 0.01 -TimeoutSeconds 5 -Id {Id} -PerReply | ForEach-Object {{ \"$($_.Sequence) $($_.Identifier) $($_.Source) $($_.Status)\" }}",
            unprivileged: false), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        Assert.True(Task.WaitAll([.. inProcess, other], Stuck), "an operation was stuck");
        for (var i = 0; i < runs.Length; i++)
        {
            runs[i].Check(inProcess[i].Result);
        }
        var second = other.Result;
        Assert.True(second.Errors.Count == 0, second.ToString());
        var lines = second.Objects.Select(o => o.GetString()!).ToList();
        Assert.Equal(Enumerable.Range(1, 100).Select(s => $"{s} {Id} 198.18.4.2 Success"), lines.OrderBy(l => int.Parse(l.Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture)));
        // Every lease was given back: the shared probers closed once the last runspace finished.
        Assert.Equal(0, ProberPool.LeasedCount);
    }
}
