namespace IcmpTools.Engine.Models;

/// <summary>An echo request as it was put on the wire. Flat and immutable so it serialises without loss.</summary>
public sealed class Request
{
    public Request(string destination, IcmpFamily family, int identifier, int sequence, int payloadSize,
        int ttl, int trafficClass, DateTime timestamp)
    {
        Destination = destination;
        Family = family;
        Identifier = identifier;
        Sequence = sequence;
        PayloadSize = payloadSize;
        Ttl = ttl;
        TrafficClass = trafficClass;
        Timestamp = timestamp;
    }

    public string Destination { get; }
    public IcmpFamily Family { get; }
    public int Identifier { get; }
    public int Sequence { get; }
    public int PayloadSize { get; }
    public int Ttl { get; }
    public int TrafficClass { get; }
    /// <summary>Wall-clock UTC time of the send.</summary>
    public DateTime Timestamp { get; }

    public override string ToString() => $"{Destination} id={Identifier} seq={Sequence}";
}
