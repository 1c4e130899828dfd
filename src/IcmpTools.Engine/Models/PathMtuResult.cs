using System.Collections.ObjectModel;
using System.Globalization;

namespace IcmpTools.Engine.Models;

/// <summary>How a path MTU was found.</summary>
[Newtonsoft.Json.JsonConverter(typeof(Newtonsoft.Json.Converters.StringEnumConverter))]
[System.Text.Json.Serialization.JsonConverter(typeof(System.Text.Json.Serialization.JsonStringEnumConverter))]
public enum PathMtuMethod
{
    /// <summary>The first probe, as large as the route's MTU (as this machine holds it), reached the target.</summary>
    Route,
    /// <summary>A Fragmentation Needed / Packet Too Big named the MTU (or the kernel refused a larger probe against one it had learned), and a probe of that size reached the target.</summary>
    Reported,
    /// <summary>The path dropped larger probes silently (a PMTU black hole): a DontFragment search between the largest size answered and the smallest not.</summary>
    Search,
}

/// <summary>
/// What <c>Test-IcmpEcho -MtuSize</c> found for one target: the largest IP packet (<see cref="Mtu"/>) and ICMP
/// payload (<see cref="PayloadBytes"/>, what -BufferSize takes) that reach it unfragmented, how that was found,
/// at what cost, and which routers named an MTU on the way. Flat and numeric for CSV and JSON.
/// </summary>
public sealed class PathMtuResult
{
    public PathMtuResult(string target, IcmpFamily family, IcmpStatus status, int? mtu, PathMtuMethod? method, int probes,
        IReadOnlyList<PathMtuReport> reports, double elapsedMilliseconds)
    {
        ArgumentNullException.ThrowIfNull(reports);
        Target = target;
        Family = family;
        Status = status;
        Mtu = mtu;
        Method = method;
        Probes = probes;
        Reports = new PathMtuReportList([.. reports]);
        ElapsedMilliseconds = elapsedMilliseconds;
    }

    /// <summary>The address probed.</summary>
    public string Target { get; }
    public IcmpFamily Family { get; }
    /// <summary>Success when a probe of <see cref="Mtu"/> bytes was answered; else why none was (TimedOut: not even the smallest size).</summary>
    public IcmpStatus Status { get; }
    /// <summary>The largest IP packet, headers included, that reached the target unfragmented; null when none did.</summary>
    public int? Mtu { get; }
    /// <summary>The largest ICMP echo payload that did: <see cref="Mtu"/> less the IP header (20 or 40 bytes) and the 8-byte ICMP header.</summary>
    public int? PayloadBytes => Mtu is { } mtu ? mtu - (Family == IcmpFamily.IPv4 ? 20 : 40) - 8 : null;
    /// <summary>How <see cref="Mtu"/> was found; null when it was not.</summary>
    public PathMtuMethod? Method { get; }
    /// <summary>Probes sent.</summary>
    public int Probes { get; }
    /// <summary>Every MTU named on the way, in the order it came: a router's Fragmentation Needed / Packet Too Big, or this machine's ("local").</summary>
    public PathMtuReportList Reports { get; }
    /// <summary>Wall time of the whole discovery, in milliseconds.</summary>
    public double ElapsedMilliseconds { get; }
    /// <summary>True when a raw socket carried the probes; false for an unprivileged datagram socket.</summary>
    public bool IsPrivileged { get; init; }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Target} mtu={Mtu?.ToString(CultureInfo.InvariantCulture) ?? "-"} {Method} probes={Probes}");
}

/// <summary>One MTU named on the path: by the router at <see cref="Address"/>, or by this machine (Address null) when it refused a larger probe.</summary>
public sealed record PathMtuReport(string? Address, int Mtu)
{
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Address ?? "local"}={Mtu}");
}

/// <summary>The reports, read-only; Export-Csv writes them space-separated ("198.18.2.2=1400").</summary>
public sealed class PathMtuReportList : ReadOnlyCollection<PathMtuReport>
{
    internal PathMtuReportList(PathMtuReport[] reports)
        : base(reports)
    {
    }

    public override string ToString() => string.Join(' ', this);
}
