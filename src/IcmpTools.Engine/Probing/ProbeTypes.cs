using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Probing;

/// <summary>One echo request to send: where, with what identifier, sequence, payload and IP options.</summary>
public struct ProbeSpec
{
    public IpKey Destination;
    public ushort Identifier;
    public ushort Sequence;
    /// <summary>Payload bytes when <see cref="ExplicitPayload"/> is null; the first 8 carry the probe cookie.</summary>
    public int PayloadSize;
    /// <summary>An exact payload to send instead; such probes carry no cookie and are matched by their echoed bytes.</summary>
    public byte[]? ExplicitPayload;
    public int Ttl;
    public int TrafficClass;
    public IpKey Source;
    public bool HasSource;
    /// <summary>How long to wait for an answer, in Stopwatch ticks.</summary>
    public long TimeoutTicks;
    /// <summary>The caller's own tag, handed back in the result (a host index, a probe number).</summary>
    public long Token;
}

/// <summary>What became of a probe, handed to its observer on the prober's receive thread.</summary>
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
    /// <summary>Wall-clock time of the outcome, Unix nanoseconds.</summary>
    public long TimestampNs;
    /// <summary>errno of a failed send (<see cref="IcmpStatus.SendFailed"/>), else 0.</summary>
    public int SendError;
}

/// <summary>
/// Receives the outcomes of the probes an operation sent. Called on the prober's receive thread (or the
/// sender's thread for a failed send): implementations must be quick and must not throw.
/// </summary>
public interface IProbeObserver
{
    void OnProbeCompleted(in ProbeResult result);

    /// <summary>A second echo reply to a probe already answered (the network duplicated it).</summary>
    void OnDuplicate(in ProbeResult result);
}
