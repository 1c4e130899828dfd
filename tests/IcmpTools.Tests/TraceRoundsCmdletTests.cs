using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using IcmpTools.Engine.Models;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// Trace-IcmpRoute in rounds (-Rounds, -Continuous, -PerRound) and traceroute's marks, through in-process
/// PowerShell in the lab's client namespace. The in-process host has no console, so no live view: objects only.
/// </summary>
[Collection(SocketsGroup.Name)]
public sealed class TraceRoundsCmdletTests(TraceLabFixture fixture) : IClassFixture<TraceLabFixture>
{
    private (List<Hop> Hops, Collection<ErrorRecord> Errors) Run(string script) => fixture.Lab.InClient(() =>
    {
        using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
        runspace.Open();
        using var ps = PowerShell.Create();
        ps.Runspace = runspace;
        ps.AddScript($"Import-Module '{PowerShellSession.ModuleManifest}'; {script}");
        var output = ps.Invoke();
        return (output.Select(o => o.BaseObject).OfType<Hop>().ToList(), ps.Streams.Error.ReadAll());
    });

    [SkippableTheory]
    [InlineData("198.18.4.2", "198.18.2.2")]
    [InlineData("2001:db8:4::2", "2001:db8:2::2")]
    public void RoundsWriteTheReportOnceAHopPerDistance(string target, string r2)
    {
        var (hops, errors) = Run($"Trace-IcmpRoute {target} -Rounds 5 -IntervalSeconds 0.05");

        Assert.Empty(errors);
        Assert.Equal([1, 2, 3, 4], hops.Select(h => h.Distance));
        Assert.All(hops, h => Assert.Equal(5, h.Round));
        // One probe a hop a round (mtr's default), and the lab loses none.
        Assert.All(hops, h => Assert.Equal(5, h.PacketsSent));
        Assert.All(hops, h => Assert.Equal(5, h.PacketsReceived));
        Assert.All(hops, h => Assert.NotNull(h.LastRtt));
        Assert.Equal(new HopResponder(r2, 5, 1.0), Assert.Single(hops[1].Responders));
        Assert.Empty(hops[1].RouteChanges);
        Assert.Equal(IcmpStatus.Success, hops[3].Status);
    }

    [SkippableFact]
    public void PerRoundWritesASnapshotPerHopPerRoundThatAccumulates()
    {
        var (hops, errors) = Run("Trace-IcmpRoute 198.18.4.2 -Rounds 3 -IntervalSeconds 0.05 -PerRound");

        Assert.Empty(errors);
        Assert.Equal([1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3, 4], hops.Select(h => h.Distance));
        Assert.Equal([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3], hops.Select(h => h.Round!.Value));
        Assert.Equal([1, 2, 3], hops.Where(h => h.Distance == 4).Select(h => h.PacketsSent));
    }

    [SkippableFact]
    public void APerPacketBalancerShowsBothBranchesTheirSharesAndItsChanges()
    {
        var (hops, errors) = Run("Trace-IcmpRoute 198.18.31.1 -Rounds 24 -IntervalSeconds 0.02");

        Assert.Empty(errors);
        var hop = hops.Single(h => h.Distance == 2);
        Assert.Equal(["198.18.2.2", "198.18.5.2"], hop.Responders.Select(r => r.Address).Order());
        Assert.Equal(hop.PacketsReceived, hop.Responders.Sum(r => r.Count));
        Assert.Equal(1.0, hop.Responders.Sum(r => r.Share), 9);
        Assert.NotEmpty(hop.RouteChanges);
        Assert.All(hop.RouteChanges, c => Assert.NotEqual(c.From, c.To));
        Assert.Empty(hops.Single(h => h.Distance == 1).RouteChanges);
    }

    [SkippableTheory]
    [InlineData("198.18.12.9", "!H")]
    [InlineData("2001:db8:12::9", "!N")]
    [InlineData("198.18.14.9", "!X")]
    [InlineData("2001:db8:14::9", "!X")]
    public void ARouterThatRefusesCarriesTraceroutesMark(string target, string mark)
    {
        var (hops, errors) = Run($"Trace-IcmpRoute {target} -Count 1");

        Assert.Empty(errors);
        Assert.Equal(mark, hops[^1].Annotation);
        Assert.Null(hops[0].Annotation);
    }

    [SkippableTheory]
    [InlineData("198.18.30.1", LoadBalancing.PerFlow)]
    [InlineData("198.18.31.1", LoadBalancing.PerPacket)]
    [InlineData("2001:db8:30::1", LoadBalancing.PerFlow)]
    [InlineData("2001:db8:31::1", LoadBalancing.PerPacket)]
    public void MultipathSaysWhichKindOfBalancerTheDiamondHas(string target, LoadBalancing kind)
    {
        // At 95 % the stopping rule's 6 flows all take one branch of the two in one trace of 32 (per packet the coin is
        // tossed per probe, per flow by the kernel's hash of each flow); at 99.999 % its 18 flows do so in one of 130,000.
        var (hops, errors) = Run($"Trace-IcmpRoute {target} -Multipath -MultipathConfidence 99.999");

        Assert.Empty(errors);
        // r1 balances onto r2 or r2b: distance 2 shows both, and says how r1 chose.
        Assert.Equal(2, hops[1].Addresses.Count);
        Assert.Equal(kind, hops[1].Balancing);
        Assert.Null(hops[0].Balancing);
    }

    [SkippableTheory]
    [InlineData("Trace-IcmpRoute 198.18.4.2 -Rounds 3 -Continuous")]
    [InlineData("Trace-IcmpRoute 198.18.4.2 -PerRound")]
    [InlineData("Trace-IcmpRoute 198.18.4.2 -Rounds 3 -Multipath")]
    public void RoundsRefuseWhatCannotGoWithThem(string script)
    {
        var (hops, errors) = Run(script);

        Assert.Empty(hops);
        Assert.Equal("ConflictingParameters,IcmpTools.Commands.TraceIcmpRouteCommand", Assert.Single(errors).FullyQualifiedErrorId);
    }

    [SkippableFact]
    public void ContinuousRunsUntilStoppedAndStopsAtOnce()
    {
        var (count, stopped) = fixture.Lab.InClient(() =>
        {
            using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
            runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
            runspace.Open();
            using var ps = PowerShell.Create();
            ps.Runspace = runspace;
            ps.AddScript($"Import-Module '{PowerShellSession.ModuleManifest}'; Trace-IcmpRoute 198.18.4.2 -Continuous -PerRound -IntervalSeconds 0.02");
            var output = new PSDataCollection<PSObject>();
            var enough = new ManualResetEventSlim();
            output.DataAdded += (_, _) =>
            {
                if (output.Count >= 4 * 6)
                {
                    enough.Set();
                }
            };
            var stopper = Task.Run(() =>
            {
                var reached = enough.Wait(TimeSpan.FromSeconds(60));
                ps.Stop();
                return reached;
            });
            try
            {
                ps.Invoke(null, output);
            }
            catch (PipelineStoppedException)
            {
            }
            return (output.Count, stopper.GetAwaiter().GetResult());
        });

        // Six rounds and more went by: it kept going until stopped, and the stop ended it.
        Assert.True(stopped, $"only {count} snapshots in a minute");
        Assert.True(count >= 24);
    }
}
