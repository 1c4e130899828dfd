namespace IcmpTools.Engine.Packets;

/// <summary>What a parsed ICMP message is, across both families.</summary>
public enum IcmpKind : byte
{
    Unknown = 0,
    EchoRequest,
    EchoReply,
    DestinationUnreachable,
    TimeExceeded,
    PacketTooBig,
    ParameterProblem,
    /// <summary>
    /// Not from the network: a request/response transport reporting that this machine failed the request after
    /// it was accepted (the probe becomes SendFailed with <see cref="IcmpMessage.LocalError"/>).
    /// </summary>
    LocalFailure,
}
