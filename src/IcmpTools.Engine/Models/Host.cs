namespace IcmpTools.Engine.Models;

/// <summary>
/// What a series of probes to one address found. Statistics follow icmplib's definitions so scripts
/// moving from Python see the same numbers: RTTs in milliseconds, PacketLoss as a fraction (0..1),
/// Jitter as the mean absolute difference between consecutive RTTs. A statistic with nothing to measure is
/// null, never 0: a dead host has no RTT, so <c>Sort-Object AvgRtt</c> cannot rank it beside a fast one and
/// CSV and JSON write an empty field and <c>null</c>.
/// </summary>
public sealed class Host
{
    private readonly double[] _rtts;
    private readonly RttList _rttView;
    /// <summary>The statistics of <see cref="Rtts"/>, computed once by the code Hop uses too.</summary>
    private readonly RttSummary _summary;

    public Host(string address, string? name, IcmpFamily family, int packetsSent, IReadOnlyList<double> rtts,
        int duplicates, IcmpStatus status, string? statusSource)
    {
        ArgumentNullException.ThrowIfNull(rtts);
        Address = address;
        Name = name;
        Family = family;
        PacketsSent = packetsSent;
        _rtts = [.. rtts];
        // A read-only view, so no caller (or script casting to double[]) can change a result.
        _rttView = new RttList(_rtts);
        _summary = RttSummary.Of(_rtts);
        Duplicates = duplicates;
        Status = status;
        StatusSource = statusSource;
    }

    /// <summary>The address probed.</summary>
    public string Address { get; }
    /// <summary>The name the user gave, when it was a name rather than an address.</summary>
    public string? Name { get; }
    public IcmpFamily Family { get; }
    public int PacketsSent { get; }
    /// <summary>Distinct probes answered; duplicates are counted apart.</summary>
    public int PacketsReceived => _rtts.Length;
    public int Duplicates { get; }
    /// <summary>Fraction of probes with no answer, 0 to 1.</summary>
    public double PacketLoss => PacketsSent == 0 ? 0 : 1.0 - (double)PacketsReceived / PacketsSent;
    public bool IsAlive => _rtts.Length > 0;
    /// <summary>Success when anything answered; otherwise the most telling failure (an ICMP error beats a timeout).</summary>
    public IcmpStatus Status { get; }
    /// <summary>Who sent the ICMP error behind <see cref="Status"/>, when one did.</summary>
    public string? StatusSource { get; }
    /// <summary>The ICMP code of the error behind <see cref="Status"/> (13: administratively prohibited); null when none was received.</summary>
    public int? Code { get; init; }
    /// <summary>True when a raw socket carried the probes; false for an unprivileged datagram ("ping") socket.</summary>
    public bool IsPrivileged { get; init; }
    /// <summary>The MTU the error behind <see cref="Status"/> named (Fragmentation Needed, Packet Too Big); null otherwise.</summary>
    public int? Mtu { get; init; }
    /// <summary>The Parameter Problem pointer behind <see cref="Status"/>; null otherwise.</summary>
#pragma warning disable CA1720 // "Pointer" is RFC 792's own name for the parameter problem field.
    public int? Pointer { get; init; }
#pragma warning restore CA1720
    /// <summary>Every RTT in milliseconds, in the order the probes were sent; its text form (Export-Csv) is ';'-joined.</summary>
    public RttList Rtts => _rttView;
    /// <summary>Fastest RTT in milliseconds; null when nothing answered.</summary>
    public double? MinRtt => _summary.MinOrNull;
    /// <summary>Slowest RTT in milliseconds; null when nothing answered.</summary>
    public double? MaxRtt => _summary.MaxOrNull;
    /// <summary>Mean RTT in milliseconds; null when nothing answered.</summary>
    public double? AvgRtt => _summary.AvgOrNull;
    /// <summary>Population standard deviation of the RTTs (what ping prints as mdev); null when nothing answered.</summary>
    public double? StdDev => _summary.StdDevOrNull;
    /// <summary>
    /// Mean absolute difference between consecutive RTTs (icmplib's jitter); null with fewer than two RTTs,
    /// since there is no pair to differ (icmplib says 0, which would read as a perfectly steady link).
    /// </summary>
    public double? Jitter => _summary.JitterOrNull;

    public override string ToString() =>
        $"{Address} alive={IsAlive} sent={PacketsSent} received={PacketsReceived} loss={PacketLoss:P0} avg={(AvgRtt is { } avg ? avg.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) + " ms" : "-")}";
}
