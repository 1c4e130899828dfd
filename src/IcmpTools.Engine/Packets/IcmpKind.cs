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
}
