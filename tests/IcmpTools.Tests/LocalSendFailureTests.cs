using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using IcmpTools.Engine.Models;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// A lab whose client refuses some sends itself: a prohibit route (EACCES), an unreachable route
/// (EHOSTUNREACH), for both families. The client's own segment (198.18.1.0/24) has the broadcast address
/// 198.18.1.255, which the kernel also refuses with EACCES to a socket without SO_BROADCAST.
/// </summary>
public sealed class LocalSendFailureFixture : IDisposable
{
    public const string Prohibited = "198.18.77.1";
    public const string ProhibitedV6 = "2001:db8:77::1";
    public const string NoRoute = "198.18.78.1";
    public const string Broadcast = "198.18.1.255";

    private readonly Lazy<NetLab> _lab = new(() =>
    {
        var lab = NetLab.Up();
        lab.Exec("c", "ip route add prohibit 198.18.77.0/24 && ip -6 route add prohibit 2001:db8:77::/64 && ip route add unreachable 198.18.78.0/24");
        return lab;
    });

    public NetLab Lab
    {
        get
        {
            LabRequirement.RequireRoot();
            return _lab.Value;
        }
    }

    public void Dispose()
    {
        if (_lab.IsValueCreated)
        {
            _lab.Value.Dispose();
        }
    }
}

/// <summary>
/// A send the local stack refuses is a SendFailed result in every cmdlet (issue 14, from the trial): the
/// trace said five silent routers, and every EACCES was called a broadcast address.
/// </summary>
[Collection(SocketsGroup.Name)]
public sealed class LocalSendFailureTests(LocalSendFailureFixture fixture) : IClassFixture<LocalSendFailureFixture>
{
    private sealed record Outcome(Collection<PSObject> Output, Collection<ErrorRecord> Errors);

    private Outcome Run(string script) => fixture.Lab.InClient(() =>
    {
        using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
        runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
        runspace.Open();
        using var ps = PowerShell.Create();
        ps.Runspace = runspace;
        ps.AddScript($"Import-Module '{PowerShellSession.ModuleManifest}'; {script}");
        var output = ps.Invoke();
        return new Outcome(output, ps.Streams.Error.ReadAll());
    });

    [SkippableTheory]
    [InlineData(LocalSendFailureFixture.Prohibited)]
    [InlineData(LocalSendFailureFixture.ProhibitedV6)]
    [InlineData(LocalSendFailureFixture.NoRoute)]
    public void ATraceTheLocalStackRefusesEndsWithASendFailedHopNotSilentRouters(string target)
    {
        var outcome = Run($"Trace-IcmpRoute {target} -TimeoutSeconds 1");

        Assert.Empty(outcome.Errors);
        var hop = Assert.IsType<Hop>(Assert.Single(outcome.Output).BaseObject);
        Assert.Equal(IcmpStatus.SendFailed, hop.Status);
        Assert.Equal(1, hop.Distance);
        Assert.Null(hop.Address);
    }

    [SkippableFact]
    public void ATraceToABroadcastAddressSaysBroadcastNotAllowed()
    {
        var outcome = Run($"Trace-IcmpRoute {LocalSendFailureFixture.Broadcast} -TimeoutSeconds 1");

        Assert.Empty(outcome.Output);
        var error = Assert.Single(outcome.Errors);
        Assert.StartsWith(ErrorIds.BroadcastNotAllowed + ",", error.FullyQualifiedErrorId, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData(LocalSendFailureFixture.Prohibited)]
    [InlineData(LocalSendFailureFixture.ProhibitedV6)]
    public void APingAlongAProhibitRouteIsSendFailedNotABroadcastAddress(string target)
    {
        var outcome = Run($"Test-IcmpEcho {target} -Count 2 -IntervalSeconds 0.05 -TimeoutSeconds 1");

        Assert.Empty(outcome.Errors);
        var host = Assert.IsType<Host>(Assert.Single(outcome.Output).BaseObject);
        Assert.Equal(IcmpStatus.SendFailed, host.Status);
        Assert.Equal(2, host.PacketsSent);
    }

    [SkippableFact]
    public void APingToTheSegmentsBroadcastAddressIsStillBroadcastNotAllowed()
    {
        var outcome = Run($"Test-IcmpEcho {LocalSendFailureFixture.Broadcast} -Count 1 -TimeoutSeconds 1");

        Assert.Empty(outcome.Output);
        var error = Assert.Single(outcome.Errors);
        Assert.StartsWith(ErrorIds.BroadcastNotAllowed + ",", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Contains("broadcast address", error.Exception.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ASocketSendAlongAProhibitRouteIsReceivedAsSendFailed()
    {
        var outcome = Run($$"""
            $s = New-IcmpSocket
            try {
                $q = New-IcmpRequest {{LocalSendFailureFixture.Prohibited}}
                $s.Send($q)
                $s.Receive($q, 1).Status
            } finally { $s.Close() }
            """);

        Assert.Empty(outcome.Errors);
        Assert.Equal(IcmpStatus.SendFailed, Assert.Single(outcome.Output).BaseObject);
    }
}
