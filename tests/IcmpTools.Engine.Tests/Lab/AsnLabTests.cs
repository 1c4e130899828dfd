using System.Net;
using IcmpTools.Engine.Lookups;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// -ResolveAsn against dnsmasq in the lab's target (netlab.sh dns): real DNS over UDP inside the lab, the AS plan of
/// tests/netlab/README.md. Queries leave from the client namespace, where the resolver is made.
/// </summary>
[Collection(LabGroup.Name)]
public sealed class AsnLabTests(LabFixture fixture)
{
    private static readonly IPEndPoint LabDns = new(IPAddress.Parse("198.18.4.2"), 53);
    private static readonly TracerouteOptions Quick = new() { Timeout = TimeSpan.FromSeconds(30) };
    /// <summary>A bound no loaded machine reaches: the lab's server always answers, so every AS it serves arrives.</summary>
    private static readonly TimeSpan Patient = TimeSpan.FromSeconds(30);

    private T WithDns<T>(Func<T> action)
    {
        var lab = fixture.Lab;
        lab.SetDns(true);
        try
        {
            return lab.InClient(action);
        }
        finally
        {
            lab.SetDns(false);
        }
    }

    private static List<Hop> Trace(string target, TracerouteOptions options)
    {
        var address = IPAddress.Parse(target);
        using var lease = ProberPool.Acquire(TargetResolver.FamilyOf(address));
        return Collect(Traceroute.StreamAsync(lease.Prober, address, options)).GetAwaiter().GetResult();
    }

    private static async Task<List<Hop>> Collect(IAsyncEnumerable<Hop> hops)
    {
        var list = new List<Hop>();
        await foreach (var hop in hops)
        {
            list.Add(hop);
        }
        return list;
    }

    [SkippableTheory]
    [InlineData("198.18.4.2", "198.18.1.1", "198.18.2.2", "198.18.3.2", 64501, 64502, 64504)]
    [InlineData("2001:db8:4::2", "2001:db8:1::1", "2001:db8:2::2", "2001:db8:3::2", 64511, 64512, 64514)]
    public void ATraceWithAnAsnResolverGetsTheAsNumbersTheLabServes(string target, string r1, string r2, string r3,
        int asR1, int asR2, int asTarget)
    {
        var hops = WithDns(() =>
        {
            // The IPv6 trace asks over IPv6 too, so both transports to the server are exercised.
            using var resolver = new AsnResolver(target.Contains(':') ? new IPEndPoint(IPAddress.Parse("2001:db8:4::2"), 53) : LabDns, Patient);
            return Trace(target, Quick with { AsnResolver = resolver });
        });

        Assert.Equal([r1, r2, r3, target], hops.Select(h => h.Address));
        // r2's address is covered by two announced prefixes, the /24 by two ASes: the /24's lowest. r3 has no record.
        Assert.Equal([asR1, asR2, null, asTarget], hops.Select(h => h.Asn));
        Assert.Equal(target.Contains(':') ? "2001:db8:2::/64" : "198.18.2.0/24", hops[1].AsPrefix);
        Assert.Equal("ripencc", hops[1].AsRegistry);
        Assert.Equal("ZZ", hops[1].AsCountry);
        Assert.Equal([null, null, null, null], hops.Select(h => h.Name));
    }

    [SkippableFact]
    public void AnAnswerIsCachedAndAskedOnce()
    {
        var (first, again) = WithDns(() =>
        {
            using var resolver = new AsnResolver(LabDns, Patient);
            var first = resolver.LookUpAsync(IPAddress.Parse("198.18.1.1")).GetAwaiter().GetResult();
            // Answered from the cache: complete at once, with no query queued behind it.
            var again = resolver.LookUpAsync(IPAddress.Parse("198.18.1.1"));
            return (first, again);
        });

        Assert.Equal(64501, first?.Asn);
        Assert.True(again.IsCompletedSuccessfully);
        Assert.Equal(64501, again.Result?.Asn);
    }

    [SkippableFact]
    public void AServerThatNeverAnswersLeavesAsnNullAndTheTraceStillEnds()
    {
        // r2 drops everything to the blackhole block: every query times out (after 1 s) inside the lab.
        var silent = new IPEndPoint(IPAddress.Parse("198.18.13.53"), 53);
        var hops = fixture.Lab.InClient(() =>
        {
            using var resolver = new AsnResolver(silent);
            var hops = Trace("198.18.4.2", Quick with { AsnResolver = resolver });
            // A failure is not cached: the next lookup of the same address is asked again (it is not answered at once).
            Assert.False(resolver.LookUpAsync(IPAddress.Parse("198.18.1.1")).IsCompleted);
            return hops;
        });

        Assert.Equal(["198.18.1.1", "198.18.2.2", "198.18.3.2", "198.18.4.2"], hops.Select(h => h.Address));
        Assert.All(hops, h => Assert.Null(h.Asn));
        Assert.Equal([IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.TimeExceeded, IcmpStatus.Success], hops.Select(h => h.Status));
    }
}
