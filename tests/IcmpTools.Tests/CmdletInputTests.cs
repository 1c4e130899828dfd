using System.Management.Automation;
using IcmpTools.Binding;
using IcmpTools.Engine.Models;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// How the two ping cmdlets take their input and report on it: pipeline binding, hosts files, blocks given
/// to the wrong cmdlet, -Quiet, -Source, -Verbose, filtering inside the sweep, parameter sets and tab
/// completion. Loopback only; names resolve from /etc/hosts (localhost), never through DNS.
/// </summary>
[Collection(SocketsGroup.Name)]
public sealed class CmdletInputTests
{
    private static List<Host> Hosts(IEnumerable<PSObject> output) => output.Select(o => Assert.IsType<Host>(o.BaseObject)).ToList();

    [Theory]
    [InlineData(null, new[] { "127.0.0.1", "127.0.0.2" }, true, false)]
    [InlineData(null, new[] { "::1", "2001:db8::1" }, false, true)]
    [InlineData(null, new[] { "127.0.0.1", "::1" }, true, true)]
    [InlineData(null, new[] { "::ffff:127.0.0.1" }, true, false)]
    [InlineData(null, new[] { "127.0.0.1", "localhost" }, true, true)]
    [InlineData(null, new[] { "::1", "127.0.0.0/30" }, true, true)]
    [InlineData(null, new[] { "# comment", "", "::1" }, false, true)]
    [InlineData(null, new[] { "" }, true, false)]
    [InlineData(null, null, true, true)]
    [InlineData(IcmpFamily.IPv6, new[] { "127.0.0.1" }, false, true)]
    [InlineData(IcmpFamily.IPv4, null, true, false)]
    public void TheSocketsOpenedAreTheFamiliesTheTargetsNeed(IcmpFamily? family, string[]? targets, bool v4, bool v6)
    {
        Assert.Equal((v4, v6), Commands.IcmpCmdletBase.FamiliesNeeded(family, targets));
    }

    [SkippableFact]
    public void QuietGivesOneBoolPerInputInInputOrderAlsoForTargetsThatFail()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        // ::1 fails at once (-IPv4) and the block is refused at once: in completion order they came first,
        // and got no boolean at all.
        var output = ps.Invoke("Test-IcmpEcho 127.0.0.1, ::1, 127.0.0.0/30, 127.0.0.2 -IPv4 -Count 2 -IntervalSeconds 0.05 -Quiet");

        Assert.Equal([true, false, false, true], output.Select(o => (bool)o.BaseObject));
        Assert.Equal(2, ps.Errors.Count);
    }

    [SkippableFact]
    public void IPAddressObjectsBindAsTheAddressesTheyAre()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var echo = Hosts(ps.Invoke("[ipaddress]'::1', [ipaddress]'127.0.0.1' | Test-IcmpEcho -Count 1"));
        var echoErrors = ps.Errors.ToList();
        var sweep = Hosts(ps.Invoke("[ipaddress]'::1', [ipaddress]'127.0.0.3' | Invoke-IcmpMultiPing -Count 1"));

        Assert.Empty(echoErrors);
        Assert.Empty(ps.Errors);
        Assert.Equal(["127.0.0.1", "::1"], echo.Select(h => h.Address).Order(StringComparer.Ordinal));
        Assert.Equal(["127.0.0.3", "::1"], sweep.Select(h => h.Address).Order(StringComparer.Ordinal));
        Assert.All(echo.Concat(sweep), h => Assert.True(h.IsAlive));
    }

    [SkippableFact]
    public void TestIcmpEchoTakesTheSweepsPropertyNamesAndItsOwnHosts()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = Hosts(ps.Invoke("""
            [pscustomobject]@{ IPAddress = '127.0.0.5' }, [pscustomobject]@{ Name = '127.0.0.6' } | Test-IcmpEcho -Count 1
            Invoke-IcmpMultiPing 127.0.0.0/30 -Count 1 | Test-IcmpEcho -Count 1
            """));

        Assert.Empty(ps.Errors);
        Assert.Equal(["127.0.0.1", "127.0.0.2", "127.0.0.5", "127.0.0.6"], output.Select(h => h.Address).Order());
    }

    [SkippableTheory]
    [InlineData("Test-IcmpEcho")]
    [InlineData("Invoke-IcmpMultiPing")]
    public void BlankLinesAndCommentsInAHostsListAreSkipped(string cmdlet)
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();
        var file = Path.Combine(Path.GetTempPath(), $"icmptools-hosts-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(file, ["# loopback hosts", "", "127.0.0.1", "   ", "127.0.0.2   # the second one", "\t# indented comment"]);
        ps.SetVariable("file", file);
        try
        {
            var output = Hosts(ps.Invoke($"Get-Content -LiteralPath $file | {cmdlet} -Count 1 -Debug"));

            Assert.Empty(ps.Errors);
            Assert.Equal(["127.0.0.1", "127.0.0.2"], output.Select(h => h.Address).Order());
            Assert.Contains("Skipped the input line '# loopback hosts' (blank or a # comment).", ps.Debug.Select(d => d.Message));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [SkippableTheory]
    [InlineData("127.0.0.0/30", "4")]
    [InlineData("127.0.0.1-127.0.0.3", "3")]
    [InlineData("::/126", "4")]
    public void ABlockGivenToTestIcmpEchoSaysItIsABlockAndNamesTheSweep(string block, string count)
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke($"Test-IcmpEcho {block}, 127.0.0.1 -Count 1");

        Assert.Equal("127.0.0.1", Assert.Single(Hosts(output)).Address);
        var error = Assert.Single(ps.Errors);
        Assert.Equal($"{ErrorIds.TargetIsBlock},IcmpTools.Commands.TestIcmpEchoCommand", error.FullyQualifiedErrorId);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(block, error.TargetObject);
        Assert.Contains($"of {count} addresses", error.Exception.Message, StringComparison.Ordinal);
        Assert.Contains("Invoke-IcmpMultiPing", error.Exception.Message, StringComparison.Ordinal);
    }

    [SkippableTheory]
    [InlineData("Test-IcmpEcho")]
    [InlineData("Invoke-IcmpMultiPing")]
    public void AnEmptyTargetTypedOnTheCommandLineIsAnErrorNotSilence(string cmdlet)
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = Hosts(ps.Invoke($"$unset = ''; {cmdlet} $unset, 127.0.0.1 -Count 1"));

        Assert.Equal("127.0.0.1", Assert.Single(output).Address);
        var error = Assert.Single(ps.Errors);
        Assert.StartsWith(ErrorIds.InvalidTarget + ",", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal("", error.TargetObject);
    }

    [SkippableFact]
    public void ABlockOfOneAddressIsPingedAsThatAddress()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var host = Assert.Single(Hosts(ps.Invoke("Test-IcmpEcho 127.0.0.7/32 -Count 1")));

        Assert.Empty(ps.Errors);
        Assert.Equal("127.0.0.7", host.Address);
        Assert.Null(host.Name);
    }

    [SkippableTheory]
    [InlineData("Test-IcmpEcho", "198.18.99.99")]
    [InlineData("Invoke-IcmpMultiPing", "198.18.99.99")]
    [InlineData("Test-IcmpEcho", "not-an-address")]
    [InlineData("Invoke-IcmpMultiPing", "not-an-address")]
    public void ABadSourceIsOneErrorNamingItFromEitherCmdlet(string cmdlet, string source)
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke($"{cmdlet} 127.0.0.1, 127.0.0.2, ::1 -Count 1 -Source {source}");

        Assert.Empty(output);
        var error = Assert.Single(ps.Errors);
        Assert.StartsWith(ErrorIds.InvalidSourceAddress + ",", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(source, error.TargetObject);
        Assert.Contains(source, error.Exception.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void VerboseSaysTheSocketsTheAddressesAndTheCounts()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        ps.Invoke("Test-IcmpEcho localhost -IPv4 -Count 2 -IntervalSeconds 0.05 -Verbose -Debug");
        var echo = ps.Verbose.Select(v => v.Message).ToList();
        var debug = ps.Debug.Select(d => d.Message).ToList();
        ps.Invoke("Invoke-IcmpMultiPing 127.0.0.0/30 -Count 2 -IntervalSeconds 0.05 -Rate 500 -Verbose -Debug");
        var sweep = ps.Verbose.Select(v => v.Message).ToList();
        Assert.Contains("Queued the target '127.0.0.0/30'.", ps.Debug.Select(d => d.Message));

        // -IPv4: the IPv6 socket is not opened at all.
        Assert.Contains(echo, m => m == "ICMP sockets: IPv4 (raw); shared with other commands in this process.");
        Assert.Contains(echo, m => m.StartsWith("Pinging localhost (127.0.0.1) from the address the routing table picks: 2 probes of 56 bytes, every 0.05 s", StringComparison.Ordinal));
        Assert.Contains("localhost (127.0.0.1): 2 sent, 2 received, 0% loss, 0 duplicates.", echo);
        Assert.Contains("Resolved 'localhost' to 127.0.0.1.", debug);
        Assert.Contains(sweep, m => m.StartsWith("Sweeping from the address the routing table picks: 2 probes per host every 0.05 s, timeout 1 s, rate 500 probes/s, at most 65536 hosts in flight; writing all hosts.", StringComparison.Ordinal));
        Assert.Contains(sweep, m => m.StartsWith("Swept 2 hosts: 2 alive, 4 probes sent in ", StringComparison.Ordinal));
        // Loopback is no Ethernet next hop: the raw socket sent them, and -Verbose says why.
        Assert.Contains(sweep, m => m.StartsWith("IPv4 send path (this socket, so far): 0 as Ethernet frames (AF_PACKET), ", StringComparison.Ordinal)
            && m.Contains("through the raw socket (local, broadcast or multicast address: ", StringComparison.Ordinal));
    }

    [SkippableFact]
    public void AliveAndUnreachableFilterInsideTheSweep()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var alive = Hosts(ps.Invoke("Invoke-IcmpMultiPing 127.0.0.0/29 -Count 1 -Alive"));
        var dead = ps.Invoke("Invoke-IcmpMultiPing 127.0.0.0/29 -Count 1 -Unreachable -Verbose");
        var sweptVerbose = ps.Verbose.Select(v => v.Message).ToList();

        Assert.Equal(6, alive.Count);
        Assert.Empty(dead);
        Assert.Empty(ps.Errors);
        // Every host was still swept; only none was written.
        Assert.Contains(sweptVerbose, m => m.StartsWith("Swept 6 hosts: 6 alive", StringComparison.Ordinal));
        Assert.Contains(sweptVerbose, m => m.EndsWith("writing unreachable hosts.", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("Test-IcmpEcho 127.0.0.1 -Quiet -PerReply")]
    [InlineData("Test-IcmpEcho 127.0.0.1 -Quiet -Continuous")]
    [InlineData("Invoke-IcmpMultiPing 127.0.0.1 -Alive -Unreachable")]
    public void OptionsThatContradictEachOtherFailInBinding(string script)
    {
        using var ps = new PowerShellSession();

        var output = ps.Invoke(script);

        Assert.Empty(output);
        Assert.StartsWith("AmbiguousParameterSet", Assert.Single(ps.Errors).FullyQualifiedErrorId, StringComparison.Ordinal);
    }

    [Fact]
    public void ParameterSetsReadAsWhatEachFormDoes()
    {
        using var ps = new PowerShellSession();

        var echo = ps.Invoke("(Get-Command Test-IcmpEcho).ParameterSets | ForEach-Object { $_.Name + ':' + (($_.Parameters | Where-Object IsMandatory).Name -join ',') }");
        var sweep = ps.Invoke("(Get-Command Invoke-IcmpMultiPing).ParameterSets | ForEach-Object { $_.Name + ':' + (($_.Parameters | Where-Object IsMandatory).Name -join ',') }");
        var quietOutput = ps.Invoke("(Get-Command Test-IcmpEcho).OutputType | Where-Object { $_.Name -eq 'System.Boolean' } | ForEach-Object { 'bool' }");

        Assert.Equal(["Continuous:TargetName,Continuous", "Default:TargetName", "MtuSize:TargetName,MtuSize", "Quiet:TargetName,Quiet"], echo.Select(o => o.ToString()).Order());
        Assert.Equal(["Alive:TargetName,Alive", "All:TargetName", "Unreachable:TargetName,Unreachable"], sweep.Select(o => o.ToString()).Order());
        Assert.Single(quietOutput);
    }

    [Theory]
    [InlineData("Test-IcmpEcho 127.0.0.1 -Source 127.", "127.0.0.1")]
    [InlineData("Invoke-IcmpMultiPing 127.0.0.0/30 -Source ::", "::1")]
    public void SourceCompletesToTheMachinesOwnAddresses(string line, string expected)
    {
        using var ps = new PowerShellSession();
        ps.SetVariable("line", line);

        var matches = ps.Invoke("(TabExpansion2 -inputScript $line -cursorColumn $line.Length).CompletionMatches.CompletionText")
            .Select(o => o.ToString()).ToList();

        Assert.Contains(expected, matches);
        Assert.DoesNotContain(matches, m => m.Contains('/', StringComparison.Ordinal));
    }

    [Fact]
    public void InterfaceNamesComplete()
    {
        var names = new InterfaceNameCompleter().CompleteArgument("Invoke-IcmpMultiPing", "Interface", "l", null!, null!)
            .Select(c => c.CompletionText).ToList();

        Assert.Contains("lo", names);
        Assert.All(names, n => Assert.StartsWith("l", n, StringComparison.OrdinalIgnoreCase));
    }
}
