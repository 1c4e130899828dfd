namespace IcmpTools.Engine.Packets;

/// <summary>What the parser found in one ICMP message; filled in place so parsing allocates nothing.</summary>
public struct IcmpParseResult
{
    public IcmpKind Kind;
    public byte Type;
    public byte Code;
    /// <summary>TTL from the IPv4 header around the message; -1 when there was none.</summary>
    public int Ttl;
    /// <summary>Bytes of the ICMP message (header and body) present in the span.</summary>
    public int IcmpLength;
    /// <summary>Echo: from its own header. Error: from the quoted echo request's header.</summary>
    public ushort Identifier;
    public ushort Sequence;
    /// <summary>False when fewer than 8 payload bytes came back (a short payload, or a minimal quote).</summary>
    public bool HasCookie;
    public ProbeCookie Cookie;
    /// <summary>Errors only: the TTL / hop limit left in the quoted original datagram when the router quoted it.</summary>
    public int QuotedTtl;
    /// <summary>Errors only: where the quoted original datagram was going.</summary>
    public IpKey QuotedDestination;
    /// <summary>Echo only: the payload's place, relative to the span given to the parser.</summary>
    public int PayloadOffset;
    public int PayloadLength;
    /// <summary>IPv4 Fragmentation Needed and IPv6 Packet Too Big: the MTU the sender must fit; else 0.</summary>
    public int Mtu;
    /// <summary>Parameter Problem: the offset of the offending byte in the original datagram.</summary>
#pragma warning disable CA1720 // "Pointer" is RFC 792's own name for the parameter problem field.
    public int Pointer;
#pragma warning restore CA1720
}
