using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Probing;

/// <summary>How a probe finishes.</summary>
public enum ProbeMode : byte
{
    /// <summary>At its first answer (or timeout); a later echo reply is a duplicate.</summary>
    FirstAnswer,
    /// <summary>At its deadline, having handed every answer to <see cref="IProbeObserver.OnAnswer"/> (broadcast).</summary>
    Collect,
}

/// <summary>One echo request to send: where, with what identifier, sequence, payload and IP options.</summary>
public struct ProbeSpec
{
    public IpKey Destination;
    public ushort Identifier;
    public ushort Sequence;
    /// <summary>Payload bytes when <see cref="ExplicitPayload"/> is null; the first 8 carry the probe cookie.</summary>
    public int PayloadSize;
    /// <summary>An exact payload to send instead; such probes carry no cookie and are matched by (destination, identifier, sequence) and their echoed bytes.</summary>
    public byte[]? ExplicitPayload;
    public int Ttl;
    public int TrafficClass;
    public IpKey Source;
    public bool HasSource;
    /// <summary>How long to wait for an answer, in ticks of the prober's clock (<see cref="TimeProvider.TimestampFrequency"/>).</summary>
    public long TimeoutTicks;
    /// <summary>The caller's own tag, handed back in the result (a host index, a probe number).</summary>
    public long Token;
    public ProbeMode Mode;
    /// <summary>An echo reply from any address answers the probe (a broadcast destination).</summary>
    public bool AnyResponder;
    /// <summary>
    /// Also match answers that carry no cookie by (destination, identifier, sequence): routers that quote only
    /// the 8 bytes RFC 792 promises. Costs an index entry per probe, so sweeps leave it off.
    /// </summary>
    public bool MatchWithoutCookie;
    /// <summary>Flow-stable probing: hold the message's one's-complement sum at <see cref="Sum"/> (see <see cref="EchoRequestWriter"/>).</summary>
    public bool HoldSum;
    public ushort Sum;
}

/// <summary>What became of a probe, handed to its observer on the prober's receive thread (or the sender's, for a failed send).</summary>
public struct ProbeResult
{
    public long Token;
    public IcmpStatus Status;
    public IpKey Destination;
    /// <summary>Who answered: the target, or the router that sent an ICMP error; default on timeout.</summary>
    public IpKey Responder;
    public ushort Identifier;
    public ushort Sequence;
    public int Type;
    public int Code;
    public int BytesReceived;
    /// <summary>Round-trip time in milliseconds; NaN when nothing answered.</summary>
    public double RttMilliseconds;
    /// <summary>TTL / hop limit the answer arrived with; -1 when unknown.</summary>
    public int Ttl;
    /// <summary>TTL left in the datagram an error quoted; -1 when unknown.</summary>
    public int QuotedTtl;
    /// <summary>MTU an error named (Fragmentation Needed, Packet Too Big); 0 otherwise.</summary>
    public int Mtu;
    /// <summary>Parameter Problem's pointer; -1 otherwise.</summary>
#pragma warning disable CA1720 // "Pointer" is RFC 792's own name for the parameter problem field.
    public int Pointer;
#pragma warning restore CA1720
    /// <summary>RFC 4884 extensions of the ICMP error that answered; null when none.</summary>
    public IcmpExtensions? Extensions;
    /// <summary>Collect mode: answers seen before the deadline.</summary>
    public int Answers;
    /// <summary>Wall-clock time of the outcome, Unix nanoseconds.</summary>
    public long TimestampNs;
    /// <summary>
    /// When the outcome happened on the prober's clock: an answer's arrival, a timeout's deadline. Orders
    /// outcomes and duplicates by when they happened, not by when the receive loop got to them.
    /// </summary>
    public long EventTimestamp;
    /// <summary>errno of a failed send (<see cref="IcmpStatus.SendFailed"/>), else 0.</summary>
    public int SendError;
    /// <summary>Set when the prober itself failed (its socket broke): the probe never got an answer it could read.</summary>
    public Exception? Failure;
}

/// <summary>
/// Receives the outcomes of the probes an operation sent. Called on the prober's receive thread (or the
/// sender's thread for a failed send): implementations must be quick. An exception thrown here fails the
/// prober's pending probes rather than the process, so don't.
/// </summary>
public interface IProbeObserver
{
    /// <summary>The probe's final outcome. A probe cancelled through its handle reports nothing.</summary>
    void OnProbeCompleted(in ProbeResult result);

    /// <summary>A second echo reply to a probe already answered (the network duplicated it).</summary>
    void OnDuplicate(in ProbeResult result);

    /// <summary>Collect mode: one answer before the deadline.</summary>
    void OnAnswer(in ProbeResult result)
    {
    }

    /// <summary>
    /// The probe is being handed to the socket (called on the sending thread, always before any outcome of
    /// the probe, even a failed send); keep the handle to cancel it or move its deadline.
    /// </summary>
    void OnProbeSent(in ProbeHandle handle, long token)
    {
    }
}
