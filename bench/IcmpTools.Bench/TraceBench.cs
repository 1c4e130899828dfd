using System.Diagnostics;
using System.Globalization;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;

namespace IcmpTools.Bench;

/// <summary>
/// The traceroute benchmark's own runs (bench/trace.sh): traces a target with the engine, one warm-up and
/// then --repeat measured runs, printing each hop to stderr and one "RESULT {json}" line per run.
/// </summary>
internal static class TraceBench
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Run(string target, int repeat, IReadOnlyDictionary<string, string> opts)
    {
        var options = new TracerouteOptions
        {
            Count = int.Parse(opts.GetValueOrDefault("count", "3"), Inv),
            Timeout = TimeSpan.FromSeconds(double.Parse(opts.GetValueOrDefault("timeout", "2"), Inv)),
            MaxHops = int.Parse(opts.GetValueOrDefault("max-hops", "30"), Inv),
            FlowId = int.Parse(opts.GetValueOrDefault("flow", "0"), Inv),
            Multipath = opts.GetValueOrDefault("multipath", "false") == "true",
        };
        var address = IPAddress.Parse(target);
        for (var run = 0; run <= repeat; run++)
        {
            // A fresh lease per run, as each cmdlet call takes one.
            using var lease = ProberPool.Acquire(TargetResolver.FamilyOf(address));
            var watch = Stopwatch.StartNew();
            var hops = new List<Hop>();
            var stream = Traceroute.StreamAsync(lease.Prober, address, options).GetAsyncEnumerator();
            while (stream.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                hops.Add(stream.Current);
            }
            var ms = watch.Elapsed.TotalMilliseconds;
            foreach (var hop in hops)
            {
                Console.Error.WriteLine($"  {hop} sent={hop.PacketsSent} addresses={string.Join(',', hop.Addresses)} links={hop.Links}");
            }
            if (run == 0)
            {
                continue;
            }
            var path = string.Join(' ', hops.Select(h => string.Join('|', h.Addresses.Order(StringComparer.Ordinal)) is { Length: > 0 } a ? a : "*"));
            var links = string.Join(' ', hops.SelectMany(h => h.Links).Select(l => l.ToString()).Order(StringComparer.Ordinal));
            var probes = hops.Sum(h => h.PacketsSent);
            Console.Out.WriteLine(string.Create(Inv,
                $"RESULT {{\"mode\":\"trace\",\"run\":{run},\"target\":\"{target}\",\"ms\":{ms:0.###},\"hops\":{hops.Count},\"probes\":{probes},\"path\":\"{path}\",\"links\":\"{links}\"}}"));
        }
    }
}
