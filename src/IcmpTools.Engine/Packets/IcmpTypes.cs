namespace IcmpTools.Engine.Packets;

/// <summary>ICMP (RFC 792) and ICMPv6 (RFC 4443) message types the engine sends or understands.</summary>
internal static class IcmpTypes
{
    public const byte V4EchoReply = 0;
    public const byte V4DestinationUnreachable = 3;
    public const byte V4EchoRequest = 8;
    public const byte V4TimeExceeded = 11;
    public const byte V4ParameterProblem = 12;
    public const byte V6DestinationUnreachable = 1;
    public const byte V6PacketTooBig = 2;
    public const byte V6TimeExceeded = 3;
    public const byte V6ParameterProblem = 4;
    public const byte V6EchoRequest = 128;
    public const byte V6EchoReply = 129;
}
