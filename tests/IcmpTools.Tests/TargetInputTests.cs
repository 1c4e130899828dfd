using System.Management.Automation;
using IcmpTools.Engine.Models;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// What every cmdlet that takes a target does with the forms a user pipes or types (issue 14, from the
/// trial): address objects of both families, blocks and ranges given to a one-host cmdlet, and a block
/// of the wrong family. Loopback only.
/// </summary>
[Collection(SocketsGroup.Name)]
public sealed class TargetInputTests
{
    [SkippableFact]
    public void AnIPv6AddressObjectPipedToTraceIcmpRouteIsTracedNotAPipelineFailure()
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var hops = ps.Invoke("[ipaddress]'::1', [ipaddress]'127.0.0.1' | Trace-IcmpRoute -TimeoutSeconds 1")
            .Select(o => Assert.IsType<Hop>(o.BaseObject)).ToList();

        Assert.Empty(ps.Errors);
        Assert.Equal(["127.0.0.1", "::1"], hops.Select(h => h.Target).Distinct().Order(StringComparer.Ordinal));
        Assert.All(hops, h => Assert.Equal(IcmpStatus.Success, h.Status));
    }

    [SkippableFact]
    public void AnIPv6AddressObjectPipedToNewIcmpRequestBecomesItsDestination()
    {
        using var ps = new PowerShellSession();

        var requests = ps.Invoke("[ipaddress]'::1', [ipaddress]'127.0.0.1' | New-IcmpRequest")
            .Select(o => Assert.IsType<Request>(o.BaseObject)).ToList();

        Assert.Empty(ps.Errors);
        Assert.Equal(["::1", "127.0.0.1"], requests.Select(r => r.Destination));
        Assert.Equal([IcmpFamily.IPv6, IcmpFamily.IPv4], requests.Select(r => r.Family));
    }

    [SkippableTheory]
    [InlineData("Trace-IcmpRoute", "127.0.0.0/30", "4")]
    [InlineData("Trace-IcmpRoute", "127.0.0.1-127.0.0.3", "3")]
    [InlineData("New-IcmpRequest", "127.0.0.0/30", "4")]
    [InlineData("New-IcmpRequest", "::/126", "4")]
    public void ABlockGivenToAOneHostCmdletSaysItIsABlockNotThatDnsFailed(string cmdlet, string block, string count)
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke($"{cmdlet} {block}");

        Assert.Empty(output);
        var error = Assert.Single(ps.Errors);
        Assert.StartsWith(ErrorIds.TargetIsBlock + ",", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal(ErrorCategory.InvalidArgument, error.CategoryInfo.Category);
        Assert.Equal(block, error.TargetObject);
        Assert.Contains($"of {count} addresses", error.Exception.Message, StringComparison.Ordinal);
        Assert.Contains(cmdlet, error.Exception.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ABlockOfOneAddressGivenToNewIcmpRequestIsThatAddress()
    {
        using var ps = new PowerShellSession();

        var request = Assert.IsType<Request>(Assert.Single(ps.Invoke("New-IcmpRequest 127.0.0.7/32")).BaseObject);

        Assert.Empty(ps.Errors);
        Assert.Equal("127.0.0.7", request.Destination);
    }

    [SkippableTheory]
    [InlineData("127.1.0.0/16 -IPv6", ErrorIds.FamilyMismatch)]
    [InlineData("127.1.0.0/16 -Source ::1", ErrorIds.InvalidSourceAddress)]
    [InlineData("::/112 -Source 127.0.0.1", ErrorIds.InvalidSourceAddress)]
    public void ABlockOfTheWrongFamilyIsOneErrorForTheTargetNotOnePerAddress(string arguments, string errorId)
    {
        LabRequirement.RequireRoot();
        using var ps = new PowerShellSession();

        var output = ps.Invoke($"Invoke-IcmpMultiPing {arguments} -Count 1 -TimeoutSeconds 0.2");

        Assert.Empty(output);
        var error = Assert.Single(ps.Errors);
        Assert.StartsWith(errorId + ",", error.FullyQualifiedErrorId, StringComparison.Ordinal);
        Assert.Equal(arguments.Split(' ')[0], error.TargetObject);
    }
}
