using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// Trace-IcmpRoute without privilege (issue 9): as uid 65534 with no capabilities, on datagram sockets whose
/// Time Exceeded and Unreachable messages come from the error queue, a trace through a silent router and to an
/// unreachable target reports the same hops as with root; only the quoted TTL is unknown.
/// </summary>
public sealed class UnprivilegedTraceTests(UnprivilegedLabFixture fixture) : IClassFixture<UnprivilegedLabFixture>
{
    [SkippableFact]
    public void ATraceReportsTheSameHopsUnprivilegedAsWithRoot()
    {
        const string Script = """
            Trace-IcmpRoute 198.18.4.2, 2001:db8:4::2, 198.18.12.7, 2001:db8:12::7 -TimeoutSeconds 1 -Verbose |
                ForEach-Object { "$($_.Target) $($_.Distance) $($_.Addresses -join ',') $($_.Status) quoted=$($null -ne $_.QuotedTtl)" }
            """;
        var clientNamespace = fixture.Lab.Name + "-c";
        fixture.Lab.SetSilent("r3", true);
        ScriptRun unprivileged, root;
        try
        {
            unprivileged = OutOfProcess.Run(clientNamespace, Script, unprivileged: true);
            root = OutOfProcess.Run(clientNamespace, Script, unprivileged: false);
        }
        finally
        {
            fixture.Lab.SetSilent("r3", false);
        }

        Assert.True(unprivileged.Errors.Count == 0, unprivileged.ToString());
        Assert.Contains(unprivileged.Verbose, v => v.Contains("IPv4 (datagram)", StringComparison.Ordinal));
        Assert.Contains(root.Verbose, v => v.Contains("IPv4 (raw)", StringComparison.Ordinal));
        var hops = unprivileged.Objects.Select(o => o.GetString()!).Order().ToList();
        var rootHops = root.Objects.Select(o => o.GetString()!).Order().ToList();
        Assert.Contains("198.18.4.2 1 198.18.1.1 TimeExceeded quoted=False", hops);
        Assert.Contains("198.18.4.2 3  TimedOut quoted=False", hops);
        Assert.Contains("198.18.4.2 4 198.18.4.2 Success quoted=False", hops);
        Assert.Contains("2001:db8:4::2 2 2001:db8:2::2 TimeExceeded quoted=False", hops);
        Assert.Contains("198.18.12.7 2 198.18.2.2 DestinationUnreachable quoted=False", hops);
        Assert.Contains("2001:db8:12::7 2 2001:db8:2::2 DestinationUnreachable quoted=False", hops);
        // The same hops with root; only the quoted TTL, which a raw socket reads from the error, differs.
        Assert.Equal(rootHops.Select(h => h.Replace("quoted=True", "quoted=False", StringComparison.Ordinal)), hops);
        Assert.Contains("198.18.4.2 1 198.18.1.1 TimeExceeded quoted=True", rootHops);
    }
}
