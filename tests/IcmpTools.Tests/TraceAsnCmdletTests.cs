using System.Management.Automation;
using IcmpTools.Engine.Models;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// Trace-IcmpRoute -ResolveAsn through the lab, asking dnsmasq in the lab's target (netlab.sh dns) for the AS plan
/// of tests/netlab/README.md: what the objects carry, what the table and CSV show.
/// </summary>
[Collection(SocketsGroup.Name)]
public sealed class TraceAsnCmdletTests(TraceLabFixture fixture) : IClassFixture<TraceLabFixture>
{
    private (List<Hop> Hops, List<string> Text, IReadOnlyCollection<ErrorRecord> Errors) Run(string script)
    {
        fixture.Lab.SetDns(true);
        try
        {
            // The lab's runspace has no $PSHOME modules: Out-String and ConvertTo-Csv come from their assembly.
            var utility = typeof(Microsoft.PowerShell.Commands.ConvertToCsvCommand).Assembly.Location;
            var (output, errors) = fixture.InClient($"Import-Module '{utility}'; {script}");
            return (output.Select(o => o.BaseObject).OfType<Hop>().ToList(), output.Select(o => o.BaseObject).OfType<string>().ToList(), errors);
        }
        finally
        {
            fixture.Lab.SetDns(false);
        }
    }

    /// <summary>A bound no loaded machine reaches: the lab's server always answers, so every AS it serves arrives.</summary>
    private const string Patient = "-AsnTimeoutSeconds 30";

    [SkippableTheory]
    [InlineData("198.18.4.2", "198.18.4.2", 64501, 64502, 64504)]
    [InlineData("2001:db8:4::2", "[2001:db8:4::2]:53", 64511, 64512, 64514)]
    public void EachHopCarriesTheAsTheLabsDnsServes(string target, string server, int asR1, int asR2, int asTarget)
    {
        var (hops, _, errors) = Run($"Trace-IcmpRoute {target} -ResolveAsn -AsnServer '{server}' {Patient}");

        Assert.Empty(errors);
        Assert.Equal([1, 2, 3, 4], hops.Select(h => h.Distance));
        // r3 is in no announced prefix: its Asn stays null, and that is no error.
        Assert.Equal([asR1, asR2, null, asTarget], hops.Select(h => h.Asn));
        Assert.Equal("ripencc", hops[1].AsRegistry);
    }

    [SkippableFact]
    public void TheTableHasAnAsColumnThatFitsEightyColumnsAndTheCsvHasItsColumns()
    {
        var (_, text, errors) = Run("""
            $hops = Trace-IcmpRoute 198.18.4.2 -ResolveAsn -AsnServer 198.18.4.2 -AsnTimeoutSeconds 30
            ($hops | Out-String -Width 80)
            ($hops | ConvertTo-Csv -NoTypeInformation) -join "`n"
            """);

        Assert.Empty(errors);
        var rows = text[0].Split('\n').Select(l => l.TrimEnd('\r', ' ')).Where(l => l.Length > 0).ToList();
        Assert.Matches(@"^Hop +AS Address ", rows.Single(r => r.StartsWith("Hop", StringComparison.Ordinal)));
        // Whole addresses at 80 columns, each after its AS; r3's AS is blank.
        Assert.Matches(@"^ +1 +64501 198\.18\.1\.1 ", rows.Single(r => r.Contains("198.18.1.1", StringComparison.Ordinal)));
        Assert.Matches(@"^ +3 +198\.18\.3\.2 ", rows.Single(r => r.Contains("198.18.3.2", StringComparison.Ordinal)));
        Assert.Matches(@"^ +4 +64504 198\.18\.4\.2 .*Success$", rows.Single(r => r.Contains("198.18.4.2 ", StringComparison.Ordinal)));
        Assert.All(rows, r => Assert.True(r.Length <= 80, r));
        var csv = text[1].Split('\n');
        var header = csv[0].Split(',').Select(c => c.Trim('"')).ToList();
        Assert.Contains("Asn", header);
        Assert.Contains("AsPrefix", header);
        Assert.Equal("64502", csv[2].Split(',').Select(c => c.Trim('"')).ElementAt(header.IndexOf("Asn")));
    }

    [SkippableFact]
    public void WithoutResolveAsnNothingIsAskedAndTheTableIsAsBefore()
    {
        var (_, text, errors) = Run("""
            $hops = Trace-IcmpRoute 198.18.4.2
            ($hops | Out-String -Width 120)
            @($hops | Where-Object { $null -ne $_.Asn }).Count.ToString()
            """);

        Assert.Empty(errors);
        Assert.DoesNotContain(" AS ", text[0]);
        Assert.DoesNotContain("64501", text[0]);
        Assert.Matches(@"\n +1 198\.18\.1\.1 ", text[0]);
        Assert.Equal("0", text[1]);
    }

    [SkippableFact]
    public void AServerThatIsNoAddressIsOneTerminatingErrorNamingIt()
    {
        var (hops, _, errors) = Run("Trace-IcmpRoute 198.18.4.2 -ResolveAsn -AsnServer 'not-a-server'");

        Assert.Empty(hops);
        var error = Assert.Single(errors);
        Assert.Equal("InvalidParameterValue,IcmpTools.Commands.TraceIcmpRouteCommand", error.FullyQualifiedErrorId);
        Assert.Equal("not-a-server", error.TargetObject);
    }
}
