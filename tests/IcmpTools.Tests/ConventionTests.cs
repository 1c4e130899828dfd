using System.Collections.ObjectModel;
using System.Management.Automation;
using System.Management.Automation.Runspaces;
using IcmpTools.Engine.Models;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// PowerShell conventions the trial found missing (issue 14): Test-Connection's parameter names as aliases
/// where they mean the same, and a Host that carries the ICMP code behind its Status.
/// </summary>
[Collection(SocketsGroup.Name)]
public sealed class ConventionTests(LocalSendFailureFixture fixture) : IClassFixture<LocalSendFailureFixture>
{
    [Theory]
    [InlineData("Test-IcmpEcho", "Continuous", "Repeat")]
    [InlineData("Test-IcmpEcho", "IntervalSeconds", "Delay")]
    [InlineData("Invoke-IcmpMultiPing", "IntervalSeconds", "Delay")]
    [InlineData("Trace-IcmpRoute", "ResolveNames", "ResolveDestination")]
    public void TestConnectionsParameterNamesAreAliasesWhereTheyMeanTheSame(string cmdlet, string parameter, string alias)
    {
        using var ps = new PowerShellSession();

        var aliases = ps.Invoke($"(Get-Command {cmdlet}).Parameters['{parameter}'].Aliases").Select(o => o.ToString());

        Assert.Contains(alias, aliases);
    }

    [SkippableFact]
    public void DelayAndRepeatWorkAsTestConnectionUsersTypeThem()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var host = Assert.IsType<Host>(Assert.Single(ps.Invoke("Test-IcmpEcho 127.0.0.1 -Count 2 -Delay 0.05")).BaseObject);
        var replies = ps.Invoke("Test-IcmpEcho 127.0.0.1 -Repeat -Delay 0.05 | Select-Object -First 3");

        Assert.Empty(ps.Errors);
        Assert.Equal(2, host.PacketsReceived);
        Assert.Equal(3, replies.Count);
    }

    [SkippableTheory]
    [InlineData("198.18.14.9", 13)]
    [InlineData("2001:db8:14::9", 1)]
    [InlineData("198.18.12.9", 1)]
    public void AHostCarriesTheIcmpCodeBehindItsStatus(string target, int code)
    {
        var (output, errors) = fixture.Lab.InClient(() =>
        {
            using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
            runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
            runspace.Open();
            using var ps = PowerShell.Create();
            ps.Runspace = runspace;
            ps.AddScript($"Import-Module '{PowerShellSession.ModuleManifest}'; Test-IcmpEcho {target} -Count 1 -TimeoutSeconds 1");
            Collection<PSObject> result = ps.Invoke();
            return (result, ps.Streams.Error.ReadAll());
        });

        Assert.Empty(errors);
        var host = Assert.IsType<Host>(Assert.Single(output).BaseObject);
        Assert.Equal(IcmpStatus.DestinationUnreachable, host.Status);
        Assert.Equal(code, host.Code);
    }

    [SkippableFact]
    public void AZoneScopedLinkLocalTargetIsPingedAsTheHelpSays()
    {
        // r1's link-local address on the client's link, with the client's interface as its zone: to-r1 has a hyphen.
        var linkLocal = fixture.Lab.Exec("r1", "ip -6 -o addr show dev to-c scope link").Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .First(w => w.StartsWith("fe80:", StringComparison.Ordinal)).Split('/')[0];
        var (output, errors) = fixture.Lab.InClient(() =>
        {
            using var runspace = RunspaceFactory.CreateRunspace(InitialSessionState.CreateDefault2());
            runspace.ThreadOptions = PSThreadOptions.UseCurrentThread;
            runspace.Open();
            using var ps = PowerShell.Create();
            ps.Runspace = runspace;
            ps.AddScript($"Import-Module '{PowerShellSession.ModuleManifest}'; " +
                $"Test-IcmpEcho '{linkLocal}%to-r1' -Count 1; Invoke-IcmpMultiPing '{linkLocal}%to-r1' -Count 1");
            Collection<PSObject> result = ps.Invoke();
            return (result, ps.Streams.Error.ReadAll());
        });

        Assert.Empty(errors);
        Assert.Equal(2, output.Count);
        Assert.All(output, o => Assert.True(Assert.IsType<Host>(o.BaseObject).IsAlive));
    }

    [SkippableFact]
    public void AHostThatAnsweredOrTimedOutHasNoCode()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var host = Assert.IsType<Host>(Assert.Single(ps.Invoke("Test-IcmpEcho 127.0.0.1 -Count 1")).BaseObject);

        Assert.Null(host.Code);
    }
}
