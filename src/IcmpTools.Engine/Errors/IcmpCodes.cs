using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Errors;

/// <summary>Human descriptions of ICMP error types and codes (RFC 792, RFC 1812, RFC 4443).</summary>
public static class IcmpCodes
{
    public static string Describe(IcmpFamily family, int type, int code) => family == IcmpFamily.IPv4
        ? (type, code) switch
        {
            (3, 0) => "Destination network unreachable",
            (3, 1) => "Destination host unreachable",
            (3, 2) => "Destination protocol unreachable",
            (3, 3) => "Destination port unreachable",
            (3, 4) => "Fragmentation needed and DF set",
            (3, 5) => "Source route failed",
            (3, 6) => "Destination network unknown",
            (3, 7) => "Destination host unknown",
            (3, 9) => "Destination network administratively prohibited",
            (3, 10) => "Destination host administratively prohibited",
            (3, 11) => "Destination network unreachable for type of service",
            (3, 12) => "Destination host unreachable for type of service",
            (3, 13) => "Communication administratively prohibited",
            (3, _) => "Destination unreachable",
            (11, 0) => "Time to live exceeded",
            (11, 1) => "Fragment reassembly time exceeded",
            (11, _) => "Time exceeded",
            (12, _) => "Parameter problem",
            _ => $"ICMP type {type} code {code}",
        }
        : (type, code) switch
        {
            (1, 0) => "No route to destination",
            (1, 1) => "Communication with destination administratively prohibited",
            (1, 2) => "Beyond scope of source address",
            (1, 3) => "Address unreachable",
            (1, 4) => "Port unreachable",
            (1, 5) => "Source address failed ingress/egress policy",
            (1, 6) => "Reject route to destination",
            (1, _) => "Destination unreachable",
            (2, _) => "Packet too big",
            (3, 0) => "Hop limit exceeded in transit",
            (3, 1) => "Fragment reassembly time exceeded",
            (3, _) => "Time exceeded",
            (4, _) => "Parameter problem",
            _ => $"ICMPv6 type {type} code {code}",
        };

    /// <summary>
    /// The mark traceroute prints beside a hop that refused to forward: !N network, !H host, !P protocol,
    /// !F fragmentation needed (ICMPv6: packet too big), !S source route (ICMPv6: beyond scope), !X
    /// administratively prohibited (ICMPv6 also: failed policy, reject route), !V / !C precedence, and
    /// !&lt;code&gt; for any other code, as traceroute writes it. Null for an answer that is no refusal.
    /// </summary>
    public static string? Annotation(IcmpFamily family, IcmpStatus status, int? code) => (status, code) switch
    {
        (IcmpStatus.PacketTooBig, _) => "!F",
        (IcmpStatus.DestinationUnreachable, { } c) when family == IcmpFamily.IPv4 => c switch
        {
            0 or 6 or 11 => "!N",
            1 or 7 or 12 => "!H",
            2 => "!P",
            4 => "!F",
            5 => "!S",
            9 or 10 or 13 => "!X",
            14 => "!V",
            15 => "!C",
            _ => $"!{c}",
        },
        (IcmpStatus.DestinationUnreachable, { } c) => c switch
        {
            0 => "!N",
            1 or 5 or 6 => "!X",
            2 => "!S",
            3 => "!H",
            _ => $"!{c}",
        },
        _ => null,
    };
}
