using System.Diagnostics;
using System.Globalization;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;

namespace IcmpTools.Bench;

/// <summary>
/// The traceroute benchmark's own runs (bench/trace.sh): traces a target with the engine, one warm-up and
/// then --repeat measured runs, printing each hop to stderr and one "RESULT {json}" line per run. With
/// --rounds N (mtr --report -c N) each run is N rounds --interval apart (1 s, one probe a hop a round), its
/// report the latest Hop of each distance, and "wire" the echo requests the namespace's kernel counted out.
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
        var rounds = int.Parse(opts.GetValueOrDefault("rounds", "0"), Inv);
        if (rounds > 0)
        {
            options = options with
            {
                Rounds = rounds,
                Interval = TimeSpan.FromSeconds(double.Parse(opts.GetValueOrDefault("interval", "1"), Inv)),
                Count = int.Parse(opts.GetValueOrDefault("count", "1"), Inv),
            };
        }
        var address = IPAddress.Parse(target);
        for (var run = 0; run <= repeat; run++)
        {
            // A fresh lease per run, as each cmdlet call takes one.
            using var lease = ProberPool.Acquire(TargetResolver.FamilyOf(address));
            // The warm-up only has to load and JIT the code: one pass does that without a round's seconds.
            var runOptions = run == 0 ? options with { Rounds = 0 } : options;
            var echoesBefore = OutEchoes(address);
            var watch = Stopwatch.StartNew();
            var hops = new List<Hop>();
            var stream = Traceroute.StreamAsync(lease.Prober, address, runOptions).GetAsyncEnumerator();
            while (stream.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                hops.Add(stream.Current);
            }
            var ms = watch.Elapsed.TotalMilliseconds;
            var wire = OutEchoes(address) - echoesBefore;
            if (runOptions.InRounds)
            {
                // The report: each distance's latest snapshot.
                hops = [.. hops.GroupBy(h => h.Distance).Select(g => g.Last()).OrderBy(h => h.Distance)];
            }
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
            var report = string.Join(' ', hops.Select(h => string.Create(Inv,
                $"{h.Distance}:{h.Address ?? "*"}:{h.PacketLoss * 100:0.0}%:{h.PacketsSent}:{h.AvgRtt ?? double.NaN:0.000}")));
            Console.Out.WriteLine(string.Create(Inv,
                $"RESULT {{\"mode\":\"trace\",\"run\":{run},\"target\":\"{target}\",\"ms\":{ms:0.###},\"hops\":{hops.Count},\"probes\":{probes},\"path\":\"{path}\",\"links\":\"{links}\",\"wire\":{wire},\"report\":\"{report}\"}}"));
        }
    }

    /// <summary>
    /// Echo requests this network namespace's kernel has sent (Icmp OutEchos, Icmp6OutEchos): every tool's
    /// probes counted the same way, on the wire, whatever the tool reports.
    /// </summary>
    internal static long OutEchoes(IPAddress family)
    {
        if (family.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            var line = File.ReadLines("/proc/net/snmp6").FirstOrDefault(l => l.StartsWith("Icmp6OutEchos", StringComparison.Ordinal));
            return line is null ? -1 : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], Inv);
        }
        var icmp = File.ReadLines("/proc/net/snmp").Where(l => l.StartsWith("Icmp:", StringComparison.Ordinal)).ToList();
        var names = icmp[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var values = icmp[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return long.Parse(values[Array.IndexOf(names, "OutEchos")], Inv);
    }
}
