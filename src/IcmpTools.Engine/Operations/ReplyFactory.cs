using IcmpTools.Engine.Models;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Operations;

/// <summary>Turns a prober outcome into the flat <see cref="Reply"/> users see.</summary>
internal static class ReplyFactory
{
    public static Reply Create(in ProbeResult result, string destination, IcmpFamily family, bool isPrivileged) => new(
        destination,
        result.Status is IcmpStatus.TimedOut or IcmpStatus.SendFailed ? null : result.Responder.ToAddress(family).ToString(),
        family,
        result.Identifier,
        result.Sequence,
        result.Type,
        result.Code,
        result.BytesReceived,
        double.IsNaN(result.RttMilliseconds) ? null : result.RttMilliseconds,
        result.Ttl >= 0 ? result.Ttl : null,
        Clock.FromRealtimeNs(result.TimestampNs),
        result.Status)
    {
        IsPrivileged = isPrivileged,
    };
}
