using System.Management.Automation;
using Xunit;

namespace IcmpTools.Tests;

public sealed class ModuleTests
{
    [Fact]
    public void TheManifestIsValidAndExportsExactlyTheCmdlets()
    {
        using var ps = new PowerShellSession();
        var manifest = ps.Invoke($"Test-ModuleManifest '{PowerShellSession.ModuleManifest}'");
        Assert.Empty(ps.Errors);
        Assert.Single(manifest);

        var commands = ps.Invoke("(Get-Command -Module IcmpTools).Name").Select(o => o.ToString()).Order();
        Assert.Equal(["Invoke-IcmpMultiPing", "New-IcmpRequest", "New-IcmpSocket", "Test-IcmpEcho", "Trace-IcmpRoute"], commands);
    }

    [Theory]
    [InlineData("Test-IcmpEcho", "IcmpTools.Engine.Models.Host")]
    [InlineData("Test-IcmpEcho", "IcmpTools.Engine.Models.Reply")]
    [InlineData("Test-IcmpEcho", "System.Boolean")]
    [InlineData("Invoke-IcmpMultiPing", "IcmpTools.Engine.Models.Host")]
    [InlineData("New-IcmpSocket", "IcmpTools.Engine.Operations.IcmpSocket")]
    [InlineData("New-IcmpRequest", "IcmpTools.Engine.Models.Request")]
    [InlineData("Trace-IcmpRoute", "IcmpTools.Engine.Models.Hop")]
    public void CmdletsDeclareWhatTheyEmit(string cmdlet, string type)
    {
        using var ps = new PowerShellSession();
        var types = ps.Invoke($"(Get-Command {cmdlet}).OutputType.Name");
        Assert.Contains(type, types.Select(t => t.ToString()));
    }

    [Theory]
    [InlineData("Test-IcmpEcho 127.0.0.1 -Ttl 0")]
    [InlineData("Test-IcmpEcho 127.0.0.1 -Count 0")]
    [InlineData("Test-IcmpEcho 127.0.0.1 -BufferSize 70000")]
    [InlineData("Test-IcmpEcho 127.0.0.1 -TimeoutSeconds 0")]
    [InlineData("Invoke-IcmpMultiPing 127.0.0.1 -Rate -1")]
    [InlineData("Invoke-IcmpMultiPing 127.0.0.1 -ThrottleLimit 0")]
    [InlineData("Trace-IcmpRoute 127.0.0.1 -MaxHops 0")]
    [InlineData("Trace-IcmpRoute 127.0.0.1 -FlowId 40000")]
    [InlineData("Trace-IcmpRoute 127.0.0.1 -Count 0")]
    public void OutOfRangeParametersFailInBinding(string script)
    {
        using var ps = new PowerShellSession();
        var output = ps.Invoke(script);
        Assert.Empty(output);
        var error = Assert.Single(ps.Errors);
        Assert.StartsWith("ParameterArgumentValidationError", error.FullyQualifiedErrorId, StringComparison.Ordinal);
    }

    [Fact]
    public void HelpHasExamples()
    {
        using var ps = new PowerShellSession();
        var examples = ps.Invoke("(Get-Help Test-IcmpEcho -Full).examples.example.Count");
        Assert.True((int)examples.Single().BaseObject >= 2);
        var synopsis = ps.Invoke("(Get-Help Invoke-IcmpMultiPing).Synopsis").Single().ToString();
        Assert.DoesNotContain("Invoke-IcmpMultiPing [-TargetName]", synopsis, StringComparison.Ordinal);
    }
}
