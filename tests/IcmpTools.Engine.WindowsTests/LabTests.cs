using System.Net;
using System.Runtime.Versioning;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using Xunit;

namespace IcmpTools.Engine.WindowsTests;

/// <summary>
/// Both transports through the namespace lab (tests/netlab): tests/windows/run-engine-tests.sh builds a lab and
/// runs this executable under Wine inside the lab's client namespace, with ICMPTOOLS_WINE_LAB set. The chain is
/// c → r1 198.18.1.1 → r2 198.18.2.2 → r3 198.18.3.2 → target 198.18.4.2; r2 answers 198.18.12.0/24 with
/// host unreachable and drops 198.18.13.0/24 silently.
/// </summary>
[SupportedOSPlatform("windows")]
public sealed class LabTests
{
    private const string Target = "198.18.4.2";
    private static readonly string[] Routers = ["198.18.1.1", "198.18.2.2", "198.18.3.2"];

    private static void RequireLab() =>
        Assert.SkipWhen(Environment.GetEnvironmentVariable("ICMPTOOLS_WINE_LAB") is null,
            "not inside a netlab client namespace (tests/windows/run-engine-tests.sh runs these there)");

    private static string Address(in ProbeResult result) => result.Responder.ToAddress(IcmpFamily.IPv4).ToString();

    [Theory]
    [InlineData(WindowsTransport.IpHelper)]
    [InlineData(WindowsTransport.RawWinsock)]
    public void ProbesWithTtl1To4GetTimeExceededFromEachRouterThenTheEchoReply(WindowsTransport kind)
    {
        RequireLab();
        using var prober = new Prober(Transports.Open(kind));
        using var outcomes = new Outcomes();
        var probes = Enumerable.Range(1, 4).Select(ttl => Transports.Probe(Target, (ushort)ttl, ttl: ttl)).ToArray();

        prober.Send(probes, outcomes);
        var results = outcomes.WaitFor(probes.Length);

        Assert.Equal([IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.Success],
            results.Select(r => r.Status));
        Assert.Equal([.. Routers, Target], results.Select(r => Address(r)));
        Assert.All(results.Take(3), r => Assert.Equal(11, r.Type));
        Assert.All(results, r => Assert.Equal(IPAddress.Parse(Target), r.Destination.ToAddress(IcmpFamily.IPv4)));
        // The raw socket reads the quoted datagram (TTL 1 when it expired); iphlpapi has no bytes to read it from.
        Assert.All(results.Take(3), r => Assert.Equal(kind == WindowsTransport.RawWinsock ? 1 : -1, r.QuotedTtl));
    }

    [Theory]
    [InlineData(WindowsTransport.IpHelper)]
    [InlineData(WindowsTransport.RawWinsock)]
    public async Task TraceIcmpRoutesPlannerFindsEveryRouterAndTheTarget(WindowsTransport kind)
    {
        RequireLab();
        using var prober = new Prober(Transports.Open(kind));
        var hops = new List<Hop>();

        await foreach (var hop in Traceroute.StreamAsync(prober, IPAddress.Parse(Target), new TracerouteOptions { Count = 2 }, TestContext.Current.CancellationToken))
        {
            hops.Add(hop);
        }

        Assert.Equal([1, 2, 3, 4], hops.Select(h => h.Distance));
        Assert.Equal([.. Routers, Target], hops.Select(h => h.Address));
        Assert.Equal(IcmpStatus.Success, hops[^1].Status);
        Assert.All(hops.Take(3), h => Assert.Equal(IcmpStatus.TimeExceeded, h.Status));
    }

    [Theory]
    [InlineData(WindowsTransport.IpHelper)]
    [InlineData(WindowsTransport.RawWinsock)]
    public void AnUnreachableHostIsDestinationUnreachableHostCodeFromTheRouterThatSaysSo(WindowsTransport kind)
    {
        RequireLab();
        using var prober = new Prober(Transports.Open(kind));
        using var outcomes = new Outcomes();

        prober.Send([Transports.Probe("198.18.12.5", 1)], outcomes);
        var result = outcomes.WaitFor(1)[0];

        Assert.Equal(IcmpStatus.DestinationUnreachable, result.Status);
        Assert.Equal(3, result.Type);
        Assert.Equal(1, result.Code);
        Assert.Equal("198.18.2.2", Address(result));
    }

    [Theory]
    [InlineData(WindowsTransport.IpHelper)]
    [InlineData(WindowsTransport.RawWinsock)]
    public void ASilentlyDroppedProbeTimesOutAtTheProbersDeadline(WindowsTransport kind)
    {
        RequireLab();
        using var prober = new Prober(Transports.Open(kind));
        using var outcomes = new Outcomes();

        prober.Send([Transports.Probe("198.18.13.5", 1, timeoutSeconds: 1), Transports.Probe(Target, 2, timeoutSeconds: 1)], outcomes);
        var results = outcomes.WaitFor(2);

        Assert.Equal([IcmpStatus.TimedOut, IcmpStatus.Success], results.Select(r => r.Status));
    }
}
