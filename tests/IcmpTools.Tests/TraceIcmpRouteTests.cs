using System.Collections.ObjectModel;
using System.Diagnostics;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using IcmpTools.Engine.Models;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>One lab for the cmdlet's trace tests, built on first use and removed at the end.</summary>
public sealed class TraceLabFixture : IDisposable
{
    private readonly Lazy<NetLab> _lab = new(NetLab.Up);

    public NetLab Lab
    {
        get
        {
            LabRequirement.RequireRoot();
            return _lab.Value;
        }
    }

    /// <summary>
    /// Runs a script with the module imported in a runspace on a thread inside the lab's client namespace
    /// (UseCurrentThread), so the cmdlets' sockets live there.
    /// </summary>
    public (Collection<PSObject> Output, Collection<ErrorRecord> Errors) InClient(string script) => Lab.InClient(() =>
    {
        using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
        runspace.Open();
        using var ps = PowerShell.Create();
        ps.Runspace = runspace;
        ps.AddScript($"Import-Module '{PowerShellSession.ModuleManifest}'; {script}");
        var output = ps.Invoke();
        return (output, ps.Streams.Error.ReadAll());
    });

    public void Dispose()
    {
        if (_lab.IsValueCreated)
        {
            _lab.Value.Dispose();
        }
    }
}

/// <summary>
/// Trace-IcmpRoute through in-process PowerShell, run inside the lab's client namespace: the runspace
/// executes on a thread that has entered it, so the cmdlet's sockets live there.
/// </summary>
[Collection(SocketsGroup.Name)]
public sealed class TraceIcmpRouteTests(TraceLabFixture fixture) : IClassFixture<TraceLabFixture>
{
    private sealed record Outcome(List<Hop> Hops, Collection<ErrorRecord> Errors, Collection<PSObject> Output);

    /// <summary>Runs <paramref name="script"/> in a fresh runspace with the module, in the lab's client namespace.</summary>
    private Outcome Run(string script)
    {
        var (output, errors) = fixture.InClient(script);
        return new Outcome(output.Select(o => o.BaseObject).OfType<Hop>().ToList(), errors, output);
    }

    [SkippableTheory]
    [InlineData("198.18.4.2", "198.18.1.1", "198.18.2.2", "198.18.3.2")]
    [InlineData("2001:db8:4::2", "2001:db8:1::1", "2001:db8:2::2", "2001:db8:3::2")]
    public void ATraceWritesOneHopPerDistanceInOrder(string target, string r1, string r2, string r3)
    {
        var outcome = Run($"Trace-IcmpRoute {target}");

        Assert.Empty(outcome.Errors);
        Assert.Equal([1, 2, 3, 4], outcome.Hops.Select(h => h.Distance));
        Assert.Equal([r1, r2, r3, target], outcome.Hops.Select(h => h.Address));
        Assert.Equal(IcmpStatus.Success, outcome.Hops[^1].Status);
        Assert.All(outcome.Hops, h => Assert.Equal(target, h.Target));
        Assert.All(outcome.Hops, h => Assert.Equal(3, h.PacketsSent));
    }

    [SkippableFact]
    public void AnUnreachableTargetIsDataNotAnError()
    {
        var outcome = Run("Trace-IcmpRoute 198.18.14.9");

        Assert.Empty(outcome.Errors);
        Assert.Equal(2, outcome.Hops.Count);
        Assert.Equal(IcmpStatus.DestinationUnreachable, outcome.Hops[1].Status);
        Assert.Equal(13, outcome.Hops[1].Code);
    }

    [SkippableFact]
    public void SeveralTargetsFromThePipelineByPropertyNameAreTracedAtOnce()
    {
        // The blackholed target comes first: traced one after the other, its silent hops (a 3 s timeout)
        // would end before the answering trace began.
        var outcome = Run("""
            [pscustomobject]@{ ComputerName = '2001:db8:13::9' }, [pscustomobject]@{ ComputerName = '198.18.4.2' } |
                Trace-IcmpRoute -TimeoutSeconds 3
            """);

        Assert.Empty(outcome.Errors);
        var answering = outcome.Hops.Where(h => h.Target == "198.18.4.2").ToList();
        var blackholed = outcome.Hops.Where(h => h.Target == "2001:db8:13::9").ToList();
        Assert.Equal([1, 2, 3, 4], answering.Select(h => h.Distance));
        Assert.Equal([1, 2, 3, 4, 5, 6], blackholed.Select(h => h.Distance));
        // At once, not one after the other: the answering trace, second in the pipeline, is done before the
        // blackholed one ends (which takes its 3 s timeout), shown by the order of the hops, not a stopwatch.
        Assert.True(outcome.Hops.IndexOf(answering[^1]) < outcome.Hops.IndexOf(blackholed[^1]));
    }

    [SkippableFact]
    public void AnUnresolvableNameIsOneErrorRecordAndTheOtherTargetIsStillTraced()
    {
        // The client namespace has no route to any resolver, so the lookup fails at once, inside the lab.
        var outcome = Run("Trace-IcmpRoute no-such-host.invalid, 198.18.4.2");

        var error = Assert.Single(outcome.Errors);
        Assert.Equal("NameResolutionFailed,IcmpTools.Commands.TraceIcmpRouteCommand", error.FullyQualifiedErrorId);
        Assert.Equal("no-such-host.invalid", error.TargetObject);
        Assert.Equal(4, outcome.Hops.Count);
    }

    [SkippableTheory]
    [InlineData("Trace-IcmpRoute 198.18.4.2 -Ttl 5", "ConflictingParameters,IcmpTools.Commands.TraceIcmpRouteCommand")]
    [InlineData("Trace-IcmpRoute 198.18.4.2 -MinHops 5 -MaxHops 3", "InvalidParameterValue,IcmpTools.Commands.TraceIcmpRouteCommand")]
    [InlineData("Trace-IcmpRoute 198.18.4.2 -BufferSize 4", "InvalidParameterValue,IcmpTools.Commands.TraceIcmpRouteCommand")]
    [InlineData("Trace-IcmpRoute 198.18.4.2 -IPv4 -IPv6", "ConflictingParameters,IcmpTools.Commands.TraceIcmpRouteCommand")]
    [InlineData("Trace-IcmpRoute 198.18.30.1 -Multipath -FastMode", "ConflictingParameters,IcmpTools.Commands.TraceIcmpRouteCommand")]
    [InlineData("Trace-IcmpRoute 198.18.30.1 -Multipath -Count 5", "ConflictingParameters,IcmpTools.Commands.TraceIcmpRouteCommand")]
    [InlineData("Trace-IcmpRoute 198.18.30.1 -MultipathConfidence 99", "ConflictingParameters,IcmpTools.Commands.TraceIcmpRouteCommand")]
    [InlineData("Trace-IcmpRoute 198.18.30.1 -Multipath -MultipathConfidence 100", "ParameterArgumentValidationError,IcmpTools.Commands.TraceIcmpRouteCommand")]
    public void BadParametersStopWithTheirOwnErrorId(string script, string errorId)
    {
        var outcome = Run(script);

        Assert.Empty(outcome.Hops);
        var error = Assert.Single(outcome.Errors);
        Assert.Equal(errorId, error.FullyQualifiedErrorId);
    }

    [SkippableFact]
    public void HopsCarryFlatTextFormsForCsv()
    {
        // Export-Csv writes each property's string form: the lists print flat and read back as numbers.
        var outcome = Run("Trace-IcmpRoute 198.18.4.2 -Count 2");

        Assert.Empty(outcome.Errors);
        var last = outcome.Output[^1];
        Assert.Equal(IcmpStatus.Success, last.Properties["Status"].Value);
        var rtts = last.Properties["Rtts"].Value.ToString()!.Split(';');
        Assert.Equal(2, rtts.Length);
        Assert.All(rtts, r => Assert.True(double.TryParse(r, System.Globalization.CultureInfo.InvariantCulture, out _), r));
        Assert.Equal("198.18.3.2>198.18.4.2", last.Properties["Links"].Value.ToString());
        Assert.Null(last.Properties["QuotedTtl"].Value);
        Assert.Equal(1, outcome.Output[0].Properties["QuotedTtl"].Value);
    }

    [Fact]
    public void HelpDocumentsEveryParameterAndHasExamples()
    {
        using var ps = new PowerShellSession();
        var examples = ps.Invoke("(Get-Help Trace-IcmpRoute -Full).examples.example.Count");
        Assert.True((int)examples.Single().BaseObject >= 3);
        var documented = ps.Invoke("(Get-Help Trace-IcmpRoute -Full).parameters.parameter.name").Select(o => o.ToString()).ToHashSet();
        var declared = ps.Invoke("""
            (Get-Command Trace-IcmpRoute).Parameters.Keys | Where-Object {
                $_ -notin [System.Management.Automation.Cmdlet]::CommonParameters -and
                $_ -notin [System.Management.Automation.Cmdlet]::OptionalCommonParameters }
            """).Select(o => o.ToString()).ToList();
        Assert.NotEmpty(declared);
        Assert.All(declared, name => Assert.Contains(name, documented));
    }

    [SkippableFact]
    public void StoppingATraceReturnsAtOnceAndWritesOnlyFinishedHops()
    {
        var (hops, stopTook) = fixture.Lab.InClient(() =>
        {
            using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
            runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
            runspace.Open();
            using (var import = PowerShell.Create())
            {
                import.Runspace = runspace;
                import.AddScript($"Import-Module '{PowerShellSession.ModuleManifest}'").Invoke();
            }
            using var ps = PowerShell.Create();
            ps.Runspace = runspace;
            ps.AddScript("Trace-IcmpRoute 198.18.13.9 -TimeoutSeconds 60");
            var output = new PSDataCollection<PSObject>();
            var first = new ManualResetEventSlim();
            output.DataAdded += (_, _) => first.Set();
            // UseCurrentThread: the pipeline runs on this thread, so stop it from another once hop 1 is out.
            var stopper = Task.Run(() =>
            {
                if (!first.Wait(TimeSpan.FromSeconds(30)))
                {
                    return TimeSpan.MaxValue;
                }
                var watch = Stopwatch.StartNew();
                ps.Stop();
                return watch.Elapsed;
            });
            try
            {
                ps.Invoke(null, output);
            }
            catch (PipelineStoppedException)
            {
            }
            return (output.Select(o => o.BaseObject).OfType<Hop>().ToList(), stopper.GetAwaiter().GetResult());
        });

        // r1 answers at once; the silent hops behind it would take the 60 s timeout: none is written half-done.
        Assert.Equal([1], hops.Select(h => h.Distance));
        Assert.True(stopTook < TimeSpan.FromSeconds(5), $"stopping took {stopTook}");
    }
}
