using IcmpTools.Engine.Models;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Operations;

/// <summary>Turns a prober outcome into the flat <see cref="Reply"/> users see.</summary>
internal static class ReplyFactory
{
    public static Reply Create(in ProbeResult result, string destination, IcmpFamily family, bool isPrivileged) => new(
        destination,
        HasResponder(in result) ? result.Responder.ToAddress(family).ToString() : null,
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
        Mtu = result.Mtu > 0 ? result.Mtu : null,
        Pointer = result.Status == IcmpStatus.ParameterProblem && result.Pointer >= 0 ? result.Pointer : null,
        Mpls = (result.Extensions ?? IcmpExtensions.Empty).Mpls,
        InterfaceInfo = (result.Extensions ?? IcmpExtensions.Empty).InterfaceInfo,
        OtherExtensions = (result.Extensions ?? IcmpExtensions.Empty).Other,
    };

    /// <summary>
    /// Something on the network answered: not a timeout, not a failed send, and not a DontFragment send the
    /// kernel refused against a path MTU it already knew (PacketTooBig with no ICMP type).
    /// </summary>
    public static bool HasResponder(in ProbeResult result) =>
        result.Status is not (IcmpStatus.TimedOut or IcmpStatus.SendFailed) && result.Type >= 0;
}
