using System.Collections.ObjectModel;
using System.Globalization;
using IcmpTools.Engine.Errors;

namespace IcmpTools.Engine.Models;

/// <summary>
/// What a Hop carries beyond one pass's counts: traceroute's mark (Annotation), the balancer's kind with
/// -Multipath (Balancing), and when the trace runs in rounds (-Rounds, -Continuous), as mtr and Trippy show a hop:
/// statistics over every round (the RTT properties then cover all rounds, <see cref="Rtts"/> holds the
/// last round's), each responder's share, and the route changes seen. Null or empty for a single pass.
/// Kept apart from Hop.cs so that these fields stay one block (and after Hop.cs's in Export-Csv's columns).
/// </summary>
public sealed partial class Hop
{
    private HopRounds? _rounds;

    /// <summary>
    /// What traceroute prints beside a router that refused to forward: "!H" (host unreachable), "!N", "!P",
    /// "!X" (administratively prohibited), "!F" (fragmentation needed, packet too big), "!S", "!V", "!C" or
    /// "!code"; null for a router that forwarded, the destination and a silent hop.
    /// </summary>
    public string? Annotation => IcmpCodes.Annotation(Family, Status, Code);

    /// <summary>With -Rounds or -Continuous: the rounds this Hop covers (a -PerRound snapshot: the round it closes); null for one pass.</summary>
    public int? Round => _rounds?.Round;

    /// <summary>RTT in milliseconds of the latest answer (mtr's Last); null when nothing answered.</summary>
    public double? LastRtt => _summary.LastOrNull;

    /// <summary>With -Rounds or -Continuous: every responder at this distance, its answers and their share (Trippy's frequency), the most seen first; empty for one pass (see <see cref="Addresses"/>).</summary>
    public HopResponderList Responders => _rounds?.Responders ?? HopResponderList.None;

    /// <summary>Rounds in which this distance answered from another responder than in the round before (a route change; a per-packet balancer changes every round).</summary>
    public RouteChangeList RouteChanges => _rounds?.RouteChanges ?? RouteChangeList.None;

    private LoadBalancing? _balancing;

    /// <summary>
    /// With -Multipath, at a distance with several responders: whether the balancer before it keeps a flow on
    /// one path (PerFlow: repeats of one flow all met the same responder) or spreads packets (PerPacket); null otherwise.
    /// </summary>
    public LoadBalancing? Balancing => _balancing;

    internal Hop WithBalancing(LoadBalancing? balancing)
    {
        if (balancing is null)
        {
            return this;
        }
        var copy = (Hop)MemberwiseClone();
        copy._balancing = balancing;
        return copy;
    }

    /// <summary>A copy with <paramref name="name"/> for <see cref="Name"/>; every other field, present and future, carried as is.</summary>
    internal Hop WithName(string? name)
    {
        var copy = (Hop)MemberwiseClone();
        copy.Name = name;
        return copy;
    }

    /// <summary>A copy whose statistics are <paramref name="summary"/> (every round's) and that carries <paramref name="rounds"/>.</summary>
    internal Hop WithRounds(HopRounds rounds, RttSummary summary)
    {
        var copy = (Hop)MemberwiseClone();
        copy._rounds = rounds;
        copy._summary = summary;
        return copy;
    }
}

/// <summary>How a load balancer before a hop spreads probes over its paths.</summary>
public enum LoadBalancing
{
    /// <summary>By flow (a hash of addresses and the ICMP identifier and checksum): one flow, one path.</summary>
    PerFlow,
    /// <summary>Packet by packet: one flow meets different responders.</summary>
    PerPacket,
}

/// <summary>The round fields of one Hop snapshot.</summary>
internal sealed record HopRounds(int Round, HopResponderList Responders, RouteChangeList RouteChanges);

/// <summary>One responder at a distance: its answers and their share of all answers there (0 to 1).</summary>
public sealed record HopResponder(string Address, int Count, double Share)
{
    public override string ToString() => $"{Address}={Count}";
}

/// <summary>A hop's responders; Export-Csv writes "address=count" joined by spaces ("198.18.2.2=6 198.18.22.2=4").</summary>
public sealed class HopResponderList : ReadOnlyCollection<HopResponder>
{
    internal HopResponderList(HopResponder[] responders)
        : base(responders)
    {
    }

    internal static HopResponderList None { get; } = new([]);

    public override string ToString() => string.Join(' ', this.Select(r => r.ToString()));
}

/// <summary>The responder at a distance changed between two rounds: in <see cref="Round"/>, at <see cref="Time"/>, from one to the other.</summary>
public sealed record RouteChange(int Round, DateTimeOffset Time, string From, string To)
{
    public override string ToString() => $"{Round.ToString(CultureInfo.InvariantCulture)}:{From}>{To}";
}

/// <summary>A hop's route changes, the latest <see cref="Kept"/> of them; Export-Csv writes "round:from>to" joined by spaces.</summary>
public sealed class RouteChangeList : ReadOnlyCollection<RouteChange>
{
    /// <summary>Changes kept per hop: a per-packet balancer changes every round, and a trace that runs for days must not grow without end.</summary>
    public const int Kept = 100;

    internal RouteChangeList(RouteChange[] changes, int total)
        : base(changes)
    {
        Total = total;
    }

    internal static RouteChangeList None { get; } = new([], 0);

    /// <summary>Every change seen, also those no longer kept.</summary>
    public int Total { get; }

    public override string ToString() => string.Join(' ', this.Select(c => c.ToString()));
}
