namespace IcmpTools.Engine.Sockets;

/// <summary>Which kind of ICMP socket carries the probes.</summary>
public enum SocketKind
{
    /// <summary>A raw socket: needs root or CAP_NET_RAW; the process writes the whole ICMP message.</summary>
    Raw,
    /// <summary>A datagram ("ping") socket: unprivileged where ping_group_range allows; the kernel owns the identifier.</summary>
    Datagram,
}
