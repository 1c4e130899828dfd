namespace IcmpTools.Engine.Packets;

/// <summary>
/// One ICMP message as every transport hands it to the prober, whatever its framing: a raw IPv4 socket
/// (IP header first), a raw IPv6 socket (no header) and a datagram socket whose errors come from the
/// error queue all produce this, so matching and timing never depend on the socket kind.
/// </summary>
public struct IcmpMessage
{
    /// <summary>Echo reply or one of the errors that quote a probe.</summary>
    public IcmpKind Kind;
    public byte Type;
    public byte Code;
    /// <summary>Who sent the message: the target for a reply, the router for an error.</summary>
    public IpKey Responder;
    /// <summary>The address the probe went to: the responder for a reply, the quoted destination for an error.</summary>
    public IpKey ProbedDestination;
    /// <summary>From the reply's header, or from the quoted echo request of an error.</summary>
    public ushort Identifier;
    public ushort Sequence;
    public bool HasCookie;
    public ProbeCookie Cookie;
    /// <summary>TTL or hop limit the message arrived with; -1 when the platform did not say.</summary>
    public int ReceivedTtl;
    /// <summary>TTL left in the quoted datagram when the router sent the error; -1 when unknown (datagram sockets).</summary>
    public int QuotedTtl;
    /// <summary>Fragmentation Needed / Packet Too Big: the MTU to fit; 0 otherwise.</summary>
    public int Mtu;
    /// <summary>Parameter Problem: offset of the offending byte; -1 otherwise.</summary>
#pragma warning disable CA1720 // "Pointer" is RFC 792's own name for the parameter problem field.
    public int Pointer;
#pragma warning restore CA1720
    /// <summary>RFC 4884 extensions an error carried (MPLS labels, interface information); null when none or malformed.</summary>
    public Models.IcmpExtensions? Extensions;
    /// <summary>Kernel receive time, Unix nanoseconds; 0 when the platform gave none.</summary>
    public long KernelRealtimeNs;
    /// <summary>The prober clock's timestamp taken when the message was read (or, on a fake network, arrived).</summary>
    public long ReceivedTimestamp;
    /// <summary>Bytes of the ICMP message as ping reports them (the full reply, even when cut to the buffer).</summary>
    public int BytesReceived;
    /// <summary>
    /// <see cref="IcmpKind.LocalFailure"/>: the platform's error code for a request that failed on this machine
    /// after it was accepted (iphlpapi completes with a local IP_STATUS such as IP_GENERAL_FAILURE); 0 otherwise.
    /// </summary>
    public int LocalError;
}

/// <summary>Takes the messages a transport reads; called on the receive loop's thread, must be quick.</summary>
public interface IMessageSink
{
    /// <param name="message">The normalised message.</param>
    /// <param name="echoedPayload">An echo reply's payload as it came back; empty for errors.</param>
    void OnMessage(in IcmpMessage message, ReadOnlySpan<byte> echoedPayload);

    /// <summary>
    /// The kernel's own transmit time (Unix ns) of the packet sent with <paramref name="key"/>: handed over
    /// before any message that answers that packet, so its RTT can start at the wire, not at user space.
    /// </summary>
    void OnSendTimestamp(uint key, long realtimeNs)
    {
    }
}
