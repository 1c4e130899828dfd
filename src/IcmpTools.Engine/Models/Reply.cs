namespace IcmpTools.Engine.Models;

/// <summary>
/// The outcome of one probe: an echo reply, an ICMP error that quoted the probe, or a timeout.
/// Flat and numeric (addresses as strings, RTT in milliseconds) so Export-Csv, ConvertTo-Json and
/// CliXml carry it without loss.
/// </summary>
public sealed class Reply
{
    public Reply(string destination, string? source, IcmpFamily family, int identifier, int sequence,
        int type, int code, int bytesReceived, double? rtt, int? ttl, DateTime timestamp, IcmpStatus status)
    {
        Destination = destination;
        Source = source;
        Family = family;
        Identifier = identifier;
        Sequence = sequence;
        Type = type;
        Code = code;
        BytesReceived = bytesReceived;
        Rtt = rtt;
        Ttl = ttl;
        Timestamp = timestamp;
        Status = status;
    }

    /// <summary>The address that was probed.</summary>
    public string Destination { get; }
    /// <summary>The address that answered: the target for an echo reply, a router for an ICMP error; null on timeout.</summary>
    public string? Source { get; }
    public IcmpFamily Family { get; }
    public int Identifier { get; }
    public int Sequence { get; }
    /// <summary>ICMP type of the answer; -1 when nothing answered.</summary>
    public int Type { get; }
    /// <summary>ICMP code of the answer; -1 when nothing answered.</summary>
    public int Code { get; }
    /// <summary>Bytes of the ICMP message received (header and payload), as ping reports them.</summary>
    public int BytesReceived { get; }
    /// <summary>Round-trip time in milliseconds; null when nothing answered.</summary>
    public double? Rtt { get; }
    /// <summary>TTL (IPv4) or hop limit (IPv6) the answer arrived with, when the platform reports it.</summary>
    public int? Ttl { get; }
    /// <summary>Wall-clock UTC time the answer arrived (or the probe timed out).</summary>
    public DateTime Timestamp { get; }
    public IcmpStatus Status { get; }

    public override string ToString() => Status == IcmpStatus.Success
        ? $"{Source} seq={Sequence} ttl={Ttl} rtt={Rtt:0.###} ms"
        : $"{Destination} seq={Sequence} {Status}{(Source is null ? "" : " from " + Source)}";
}
