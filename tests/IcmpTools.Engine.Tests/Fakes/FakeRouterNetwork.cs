using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Tests.Fakes;

/// <summary>One router position on a fake path: one router, or several behind a balancer.</summary>
public sealed record FakeHop(params FakeRouter[] Routers)
{
    /// <summary>True: each packet picks a router at random; false: the flow id picks it (per-flow balancer).</summary>
    public bool PerPacket { get; init; }
    /// <summary>Probability that the link into this hop drops a packet (forwarding loss: every hop from here on sees it).</summary>
    public double LinkLoss { get; init; }
}

/// <summary>A router: its address, RTT, and how it treats probes whose TTL runs out there.</summary>
public sealed record FakeRouter(string Address, double RttMilliseconds)
{
    /// <summary>Sends no ICMP errors at all.</summary>
    public bool Silent { get; init; }
    /// <summary>Fraction of its Time Exceeded messages it sends (below 1: an ICMP rate limit).</summary>
    public double ErrorShare { get; init; } = 1;
    /// <summary>Answers every probe that reaches it with Destination Unreachable and this code.</summary>
    public int? UnreachableCode { get; init; }
}

/// <summary>What the fake network answered: status, responder, code and RTT.</summary>
public readonly record struct FakeAnswer(IcmpStatus Status, string Responder, int Code, double RttMilliseconds);

/// <summary>
/// A path of routers for traceroute tests: given a probe's TTL and flow it says who answers, with what and
/// after how long, or that nothing does. Per-flow balancers pick a router by a hash of the flow, per-packet
/// ones at random, both from a seeded generator so a test run is reproducible.
/// </summary>
public sealed class FakeRouterNetwork(string destination, double destinationRttMilliseconds, params FakeHop[] path)
{
    private Random _random = new(12345);

    /// <summary>Another seed for the generator (12345 by default), for a test that wants several reproducible runs.</summary>
    public int Seed { init => _random = new Random(value); }

    public string Destination { get; } = destination;
    public IReadOnlyList<FakeHop> Path { get; } = path;
    /// <summary>The destination answers nothing (a blackhole beyond the last hop).</summary>
    public bool DestinationSilent { get; init; }
    /// <summary>Probes sent, by TTL.</summary>
    public Dictionary<int, int> SentByTtl { get; } = [];

    public FakeAnswer? Answer(int ttl, int flow)
    {
        SentByTtl[ttl] = SentByTtl.GetValueOrDefault(ttl) + 1;
        for (var d = 1; d <= Path.Count; d++)
        {
            var hop = Path[d - 1];
            if (hop.LinkLoss > 0 && _random.NextDouble() < hop.LinkLoss)
            {
                return null;
            }
            var router = hop.Routers.Length == 1 ? hop.Routers[0]
                : hop.PerPacket ? hop.Routers[_random.Next(hop.Routers.Length)]
                : hop.Routers[(int)(Mix((uint)flow, (uint)d) % (uint)hop.Routers.Length)];
            if (router.UnreachableCode is { } code)
            {
                return router.Silent ? null : new FakeAnswer(IcmpStatus.DestinationUnreachable, router.Address, code, router.RttMilliseconds);
            }
            if (ttl == d)
            {
                if (router.Silent || (router.ErrorShare < 1 && _random.NextDouble() >= router.ErrorShare))
                {
                    return null;
                }
                return new FakeAnswer(IcmpStatus.TimeExceeded, router.Address, 0, router.RttMilliseconds);
            }
        }
        return DestinationSilent ? null : new FakeAnswer(IcmpStatus.Success, Destination, 0, destinationRttMilliseconds);
    }

    /// <summary>A flow hash, as a balancer keeps one: the same flow takes the same branch every time.</summary>
    private static uint Mix(uint flow, uint distance)
    {
        var x = (flow * 0x9E3779B1u) ^ (distance * 0x85EBCA77u);
        x ^= x >> 15;
        x *= 0x2C1B3C6Du;
        x ^= x >> 12;
        return x;
    }
}
