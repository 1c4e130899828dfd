using IcmpTools.Engine.Models;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>Test-IcmpEcho -MtuSize and Trace-IcmpRoute -Mtu through in-process PowerShell, on loopback (needs root, as CI is).</summary>
[Collection(SocketsGroup.Name)]
public sealed class PathMtuCmdletTests
{
    /// <summary>Loopback's MTU (65,536) is more than an echo request can be: the largest one there is.</summary>
    private const int LargestEcho = 65_500 + 28;

    [SkippableFact]
    public void MtuSizeWritesOnePathMtuResultPerTarget()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Test-IcmpEcho 127.0.0.1, ::1 -MtuSize");

        Assert.Empty(ps.Errors);
        var results = output.Select(o => Assert.IsType<PathMtuResult>(o.BaseObject)).OrderBy(r => r.Family).ToList();
        Assert.Equal(2, results.Count);
        Assert.All(results, r =>
        {
            Assert.Equal(IcmpStatus.Success, r.Status);
            Assert.Equal(PathMtuMethod.Route, r.Method);
        });
        // IPv4: the largest echo request fits loopback's 65,536; IPv6's 40-byte header makes loopback the limit.
        Assert.Equal((LargestEcho, 65_500), (results[0].Mtu, results[0].PayloadBytes));
        Assert.Equal((65_536, 65_536 - 48), (results[1].Mtu, results[1].PayloadBytes));
    }

    /// <summary>-MtuSize keeps its probers open a moment for the next call; removing the module closes them at once.</summary>
    [SkippableFact]
    public void RemoveModuleClosesTheProbersKeptForTheNextSearch()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();
        var output = ps.Invoke("Test-IcmpEcho 127.0.0.1 -MtuSize");
        Assert.Equal(IcmpStatus.Success, Assert.IsType<PathMtuResult>(Assert.Single(output).BaseObject).Status);

        ps.Invoke("Remove-Module IcmpTools");

        Assert.Empty(ps.Errors);
        Assert.Equal(0, Engine.Probing.ProberPool.IdleCount);
    }

    // Each family's sockets cost milliseconds to open and close, more than the search itself on most paths: a
    // typed literal opens its own family only; a name, or input still to come down the pipeline, opens both.
    [SkippableTheory]
    [InlineData("Test-IcmpEcho 127.0.0.1 -MtuSize -Verbose", "IPv4 (raw)", 1)]
    [InlineData("Test-IcmpEcho ::1 -MtuSize -Verbose", "IPv6 (raw)", 1)]
    [InlineData("Test-IcmpEcho 127.0.0.1, ::1 -MtuSize -Verbose", "IPv4 (raw), IPv6 (raw)", 2)]
    [InlineData("Test-IcmpEcho localhost -MtuSize -Verbose", "IPv4 (raw), IPv6 (raw)", 1)]
    [InlineData("'::1', '127.0.0.1' | Test-IcmpEcho -MtuSize -Verbose", "IPv4 (raw), IPv6 (raw)", 2)]
    [InlineData("Trace-IcmpRoute ::1 -Mtu -Verbose", "IPv6 (raw)", 1)]
    public void OnlyTheFamiliesTheTargetsNeedAreOpened(string command, string sockets, int results)
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke(command);

        Assert.Empty(ps.Errors);
        Assert.Equal(results, output.Count);
        Assert.All(output, o => Assert.True(o.BaseObject is PathMtuResult { Status: IcmpStatus.Success } or Hop { Mtu: > 0 },
            $"{o.BaseObject} for {command}"));
        Assert.Contains($"ICMP sockets: {sockets}; shared with other commands in this process.", ps.Verbose.Select(v => v.Message));
    }

    [SkippableFact]
    public void TraceWithMtuGivesEachHopItsPathMtu()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke("Trace-IcmpRoute 127.0.0.1 -Mtu");

        Assert.Empty(ps.Errors);
        var hop = Assert.IsType<Hop>(Assert.Single(output).BaseObject);
        Assert.Equal(LargestEcho, hop.Mtu);
        // Without -Mtu the column stays empty: no discovery runs.
        var plain = Assert.IsType<Hop>(Assert.Single(ps.Invoke("Trace-IcmpRoute 127.0.0.1")).BaseObject);
        Assert.Null(plain.Mtu);
    }
}
