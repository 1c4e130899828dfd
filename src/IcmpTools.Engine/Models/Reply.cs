namespace IcmpTools.Engine.Models;

/// <summary>
/// The outcome of one probe: an echo reply, an ICMP error that quoted the probe, or a timeout.
/// Flat and numeric (addresses as strings, RTT in milliseconds) so Export-Csv, ConvertTo-Json and
/// CliXml carry it without loss.
/// </summary>
public sealed class Reply
{
    public Reply(string destination, string? source, IcmpFamily family, int identifier, int sequence,
        int type, int code, int bytesReceived, double? rtt, int? ttl, UtcTimestamp timestamp, IcmpStatus status)
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
    /// <summary>Wall-clock UTC time the answer arrived (or the probe timed out); Export-Csv writes "2026-12-07T15:50:30.123Z" (see <see cref="UtcTimestamp"/>).</summary>
    public UtcTimestamp Timestamp { get; }
    public IcmpStatus Status { get; }
    /// <summary>
    /// True when a raw socket carried the probe; false for an unprivileged datagram ("ping") socket, which
    /// cannot know the quoted TTL of an ICMP error and whose kernel chose the identifier on the wire.
    /// </summary>
    public bool IsPrivileged { get; init; }

    /// <summary>
    /// The MTU the path allows: from IPv4 Fragmentation Needed (type 3 code 4) or ICMPv6 Packet Too Big, or,
    /// for a DontFragment probe the kernel refused to send (Status PacketTooBig, no Source), the path MTU it
    /// had already learned; null otherwise.
    /// </summary>
    public int? Mtu { get; init; }

    /// <summary>Parameter Problem: the offset of the offending byte in the probe (RFC 792, RFC 4443); null otherwise.</summary>
#pragma warning disable CA1720 // "Pointer" is RFC 792's own name for the parameter problem field.
    public int? Pointer { get; init; }
#pragma warning restore CA1720

    /// <summary>The MPLS label stack a router reported with its error (RFC 4950), top first; empty when none.</summary>
    public MplsLabelList Mpls { get; init; } = IcmpExtensions.Empty.Mpls;
    /// <summary>The interfaces a router described with its error (RFC 5837); empty when none.</summary>
    public InterfaceInfoList InterfaceInfo { get; init; } = IcmpExtensions.Empty.InterfaceInfo;
    /// <summary>Other RFC 4884 extension objects, as class, C-Type and bytes; empty when none.</summary>
    public IcmpExtensionObjectList OtherExtensions { get; init; } = IcmpExtensions.Empty.Other;

    /// <summary>
    /// Throws the typed exception of an ICMP error answer (icmplib's raise_for_status): DestinationUnreachable,
    /// TimeExceeded, PacketTooBig or ParameterProblem, for IPv4 and IPv6, carrying this reply. An echo reply, a
    /// timeout and a refused send are not ICMP errors and return normally.
    /// </summary>
    public void ThrowIfError()
    {
        if (Errors.IcmpErrorMessageException.FromReply(this) is { } error)
        {
            throw error;
        }
    }

    public override string ToString() => Status == IcmpStatus.Success
        ? $"{Source} seq={Sequence} ttl={Ttl} rtt={Rtt:0.###} ms"
        : $"{Destination} seq={Sequence} {Status}{(Source is null ? "" : " from " + Source)}{(Mtu is { } mtu ? $" mtu={mtu}" : "")}";
}
