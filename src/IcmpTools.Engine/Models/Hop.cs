using System.Collections.ObjectModel;
using System.Globalization;

namespace IcmpTools.Engine.Models;

/// <summary>
/// One distance of a traceroute: who answered there and how. A silent router is a Hop like any other
/// (no Address, PacketLoss 1, Status TimedOut), never a gap in Distance. Statistics are the Host model's,
/// from the same code (<see cref="RttSummary"/>: milliseconds; Jitter is the mean absolute difference of
/// consecutive RTTs), and they are null when nothing answered, so sorting by AvgRtt never puts a silent hop first.
/// </summary>
public sealed partial class Hop
{
    private readonly double[] _rtts;
    /// <summary>The statistics the properties show: of <see cref="Rtts"/>, or of every round with -Rounds (see Hop.Rounds.cs).</summary>
    private RttSummary _summary;

    public Hop(string target, IcmpFamily family, int distance, IReadOnlyList<string> addresses, string? name,
        IReadOnlyList<double> rtts, int packetsSent, IcmpStatus status, int? code, int? replyTtl, int? quotedTtl,
        bool isRateLimited, int? flowId, IReadOnlyList<HopLink> links)
    {
        ArgumentNullException.ThrowIfNull(addresses);
        ArgumentNullException.ThrowIfNull(rtts);
        ArgumentNullException.ThrowIfNull(links);
        Target = target;
        Family = family;
        Distance = distance;
        Addresses = new AddressList([.. addresses]);
        Name = name;
        _rtts = [.. rtts];
        Rtts = new RttList(_rtts);
        _summary = RttSummary.Of(_rtts);
        PacketsSent = packetsSent;
        Status = status;
        Code = code;
        ReplyTtl = replyTtl;
        QuotedTtl = quotedTtl;
        IsRateLimited = isRateLimited;
        FlowId = flowId;
        Links = new HopLinkList([.. links]);
    }

    /// <summary>The address traced.</summary>
    public string Target { get; }
    public IcmpFamily Family { get; }
    /// <summary>The probes' initial TTL (hop limit): 1 is the first router.</summary>
    public int Distance { get; }
    /// <summary>The responder seen most at this distance; null for a silent hop.</summary>
    public string? Address => Addresses.Count == 0 ? null : Addresses[0];
    /// <summary>Every responder seen at this distance, the most seen first.</summary>
    public AddressList Addresses { get; }
    /// <summary>The reverse-DNS name of <see cref="Address"/> (with -ResolveNames); null when unknown.</summary>
    public string? Name { get; private set; }
    /// <summary>RTTs in milliseconds of the probes answered, in the order they were sent; Export-Csv writes "0.051;0.048" (see <see cref="RttList"/>).</summary>
    public RttList Rtts { get; }
    /// <summary>Probes whose outcome counts: answered or timed out (probes cancelled once the hop was decided are left out).</summary>
    public int PacketsSent { get; }
    public int PacketsReceived => _summary.Count;
    /// <summary>Fraction of probes with no answer, 0 to 1.</summary>
    public double PacketLoss => PacketsSent == 0 ? 0 : 1.0 - ((double)PacketsReceived / PacketsSent);
    public double? MinRtt => _summary.MinOrNull;
    public double? MaxRtt => _summary.MaxOrNull;
    public double? AvgRtt => _summary.AvgOrNull;
    /// <summary>Population standard deviation of the RTTs; null when nothing answered.</summary>
    public double? StdDev => _summary.StdDevOrNull;
    /// <summary>Mean absolute difference between consecutive RTTs; null with fewer than two RTTs, as on Host.</summary>
    public double? Jitter => _summary.JitterOrNull;
    /// <summary>
    /// TimeExceeded for a router, Success for the destination, DestinationUnreachable (see <see cref="Code"/>)
    /// for a router that refused to go on, TimedOut for a silent hop.
    /// </summary>
    public IcmpStatus Status { get; }
    /// <summary>ICMP code of the answer behind <see cref="Status"/>; null for a silent hop.</summary>
    public int? Code { get; }
    /// <summary>TTL (hop limit) the answer arrived with; null when unknown.</summary>
    public int? ReplyTtl { get; }
    /// <summary>TTL left in the probe the router quoted (1 is usual; more reveals a TTL rewrite); null when unknown.</summary>
    public int? QuotedTtl { get; }
    /// <summary>
    /// True when this hop lost probes that a hop beyond it did not: the router limits the ICMP errors it
    /// sends, and the loss is not forwarding loss (what mtr users most often misread).
    /// </summary>
    public bool IsRateLimited { get; }
    /// <summary>The flow the hop was measured on (constant identifier and checksum); null with -Multipath, which uses many.</summary>
    public int? FlowId { get; }
    /// <summary>
    /// Which responder at the distance before leads to which here, as the flows showed it; Export-Csv writes "a>b a>c".
    /// With -Multipath a silent router on a branch is the node "*" ("a>*", "*>c"), so the branch behind it still shows.
    /// </summary>
    public HopLinkList Links { get; }

    // ICMP extensions and path MTU (issue 15): set by the planner, kept together so Hop's constructor stays as it was.
    /// <summary>The MPLS label stack the hop's router reported (RFC 4950), top first; empty when none.</summary>
    public MplsLabelList Mpls { get; init; } = IcmpExtensions.Empty.Mpls;
    /// <summary>The interfaces the hop's router described (RFC 5837); empty when none.</summary>
    public InterfaceInfoList InterfaceInfo { get; init; } = IcmpExtensions.Empty.InterfaceInfo;
    /// <summary>Other RFC 4884 extension objects, as class, C-Type and bytes; empty when none.</summary>
    public IcmpExtensionObjectList OtherExtensions { get; init; } = IcmpExtensions.Empty.Other;
    /// <summary>With -Mtu: the MTU of the path up to this hop (tracepath's pmtu column); null otherwise.</summary>
    public int? Mtu { get; private set; }

    /// <summary>With -ResolveAsn: the AS that originates <see cref="Address"/>'s prefix (Team Cymru's origin service); null when unknown.</summary>
    public long? Asn => As?.Asn;
    /// <summary>With -ResolveAsn: the announced prefix that covers <see cref="Address"/> ("198.18.0.0/15"); null when unknown.</summary>
    public string? AsPrefix => As?.Prefix;
    /// <summary>With -ResolveAsn: the registry that allocated the prefix (arin, ripencc, apnic, lacnic, afrinic); null when unknown.</summary>
    public string? AsRegistry => As?.Registry;
    /// <summary>With -ResolveAsn: the country code the registry gives for the prefix; null when unknown.</summary>
    public string? AsCountry => As?.Country;

    /// <summary>The whole origin answer behind the As* properties (kept out of the flat view and CSV: the properties carry it).</summary>
    internal AsnInfo? As { get; private set; }

    /// <summary>The same hop with its responder's origin AS; every other field, present and future, carried as is.</summary>
    internal Hop WithAsn(AsnInfo? info)
    {
        var copy = (Hop)MemberwiseClone();
        copy.As = info;
        return copy;
    }

    /// <summary>The same hop with the path MTU up to it; every other field, present and future, carried as is.</summary>
    internal Hop WithMtu(int? mtu)
    {
        var copy = (Hop)MemberwiseClone();
        copy.Mtu = mtu;
        return copy;
    }

    public override string ToString() =>
        $"{Distance} {Address ?? "*"} {Status} loss={PacketLoss.ToString("P0", CultureInfo.InvariantCulture)}" +
        (AvgRtt is { } avg ? $" avg={avg.ToString("0.###", CultureInfo.InvariantCulture)} ms" : "");
}

/// <summary>One edge of the path: a responder at <see cref="Distance"/> - 1 that led a probe's flow to one at <see cref="Distance"/>.</summary>
public sealed record HopLink(int Distance, string From, string To, int Flows)
{
    public override string ToString() => $"{From}>{To}";
}

/// <summary>
/// A hop's links, read-only. Its text form, which Export-Csv writes, is the links as "from>to" joined by
/// spaces ("198.18.1.1>198.18.2.2 198.18.1.1>198.18.5.2"), as <see cref="RttList"/> does for RTTs.
/// </summary>
/// <summary>The responders at one distance; Export-Csv writes them space-separated ("198.18.2.2 198.18.22.2").</summary>
public sealed class AddressList : ReadOnlyCollection<string>
{
    internal AddressList(string[] addresses)
        : base(addresses)
    {
    }

    public override string ToString() => string.Join(' ', this);
}

public sealed class HopLinkList : ReadOnlyCollection<HopLink>
{
    internal HopLinkList(HopLink[] links)
        : base(links)
    {
    }

    public override string ToString() => string.Join(' ', this.Select(l => l.ToString()));
}
