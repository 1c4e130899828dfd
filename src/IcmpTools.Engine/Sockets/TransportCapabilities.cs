namespace IcmpTools.Engine.Sockets;

/// <summary>
/// What a transport can do, for the planners to ask before they rely on it. A socket that writes the whole
/// echo request (Linux raw, Windows raw Winsock) can do everything; a request/response API such as Windows'
/// iphlpapi <c>IcmpSendEcho2Ex</c> writes the ICMP header itself and hands back a status instead of the error
/// message's bytes. A planner that needs what is missing refuses with <see cref="Errors.TransportCapabilityException"/>
/// or degrades with a warning (<see cref="Limits"/>), never silently.
/// </summary>
public readonly record struct TransportCapabilities
{
    /// <summary>The platform writes the echo identifier (Linux datagram sockets: the socket's port; iphlpapi: Windows).</summary>
    public bool ChoosesIdentifier { get; init; }

    /// <summary>The platform also writes the sequence number (iphlpapi): the prober's sequence is only its own bookkeeping.</summary>
    public bool ChoosesSequence { get; init; }

    /// <summary>
    /// ICMP errors arrive as the message's bytes: exact type and code, the quoted datagram (its TTL), the
    /// MTU and the pointer. False for iphlpapi, which turns an error into an IP_STATUS and the router's address.
    /// </summary>
    public bool HasRawErrorBytes { get; init; }

    /// <summary>Each probe may carry its own TTL / hop limit (traceroute).</summary>
    public bool CanSetTtl { get; init; }

    /// <summary>Each probe may carry its own TOS / traffic class.</summary>
    public bool CanSetTrafficClass { get; init; }

    /// <summary>
    /// The prober may hold a flow's checksum constant (Paris traceroute, -Multipath): it needs to write the
    /// header itself, or at least know the identifier and sequence the platform writes.
    /// </summary>
    public bool SupportsParis { get; init; }

    /// <summary>One probe may be answered by many hosts (broadcast), each answer handed over.</summary>
    public bool SupportsBroadcast { get; init; }

    /// <summary>
    /// How late the transport may hand over an answer that has already arrived. Zero for sockets: the prober
    /// drains a socket before it expires anything, so an answer that arrived in time always counts. A
    /// request/response API hands each completion over through a wait of its own (iphlpapi: a thread-pool wait),
    /// which a loaded machine runs late; a traceroute's adaptive wait is never shorter than this, or answers that
    /// came in time would be read as silent hops.
    /// </summary>
    public TimeSpan HandOffLatency { get; init; }

    /// <summary>A socket that writes the whole request and reads whole messages.</summary>
    public static TransportCapabilities Full { get; } = new()
    {
        HasRawErrorBytes = true,
        CanSetTtl = true,
        CanSetTrafficClass = true,
        SupportsParis = true,
        SupportsBroadcast = true,
    };

    /// <summary>A Linux datagram ("ping") socket: the kernel owns the identifier, errors come from the error queue.</summary>
    public static TransportCapabilities LinuxDatagram { get; } = Full with { ChoosesIdentifier = true, HasRawErrorBytes = false };

    /// <summary>What a user loses on this transport, one sentence each, for a warning; empty when nothing.</summary>
    public IReadOnlyList<string> Limits()
    {
        var limits = new List<string>();
        if (!SupportsParis)
        {
            limits.Add("the platform writes the ICMP identifier and sequence, so a flow's checksum cannot be held " +
                "(Paris traceroute and -Multipath need the raw socket an elevated session opens)");
        }
        if (!HasRawErrorBytes)
        {
            limits.Add("ICMP errors arrive as a status and the sender's address only: no quoted TTL, and no MTU or pointer " +
                "unless the platform reports one");
        }
        if (!CanSetTrafficClass)
        {
            limits.Add("the type of service / traffic class of each probe is not set");
        }
        if (!SupportsBroadcast)
        {
            limits.Add("a broadcast probe takes one answer at most");
        }
        return limits;
    }
}
