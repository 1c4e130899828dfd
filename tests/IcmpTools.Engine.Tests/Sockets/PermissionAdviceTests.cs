using IcmpTools.Engine.Sockets;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets;

/// <summary>The permission error's advice fits how PowerShell runs (issue 9).</summary>
public sealed class PermissionAdviceTests
{
    [Theory]
    [InlineData("/usr/share/dotnet/dotnet", true)]
    [InlineData("/usr/lib/dotnet/dotnet", true)]
    [InlineData("/opt/microsoft/powershell/7/pwsh", false)]
    [InlineData("/usr/bin/dotnet-counters", false)]
    public void TheSharedDotnetHostIsRecognised(string path, bool shared) =>
        Assert.Equal(shared, PermissionAdvice.IsSharedDotnetHost(path));

    [Fact]
    public void OnTheSharedDotnetHostTheAdviceIsThePingGroupRangeNeverSetcap()
    {
        var advice = PermissionAdvice.NeitherAllowed("/usr/share/dotnet/dotnet");

        Assert.Contains("net.ipv4.ping_group_range", advice, StringComparison.Ordinal);
        Assert.Contains("do not setcap", advice, StringComparison.Ordinal);
        Assert.DoesNotContain("setcap cap_net_raw+ep", advice, StringComparison.Ordinal);
    }

    [Fact]
    public void OnANativePwshBothFixesAreNamedWithItsRealPath()
    {
        var advice = PermissionAdvice.NeitherAllowed("/opt/microsoft/powershell/7/pwsh");

        Assert.Contains("net.ipv4.ping_group_range", advice, StringComparison.Ordinal);
        Assert.Contains("sudo setcap cap_net_raw+ep '/opt/microsoft/powershell/7/pwsh'", advice, StringComparison.Ordinal);
    }
}
