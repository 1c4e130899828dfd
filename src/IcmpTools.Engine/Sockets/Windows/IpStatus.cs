using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets.Windows;

/// <summary>What one IP_STATUS of a completed iphlpapi echo request means for the probe.</summary>
internal enum IpStatusClass : byte
{
    /// <summary>IP_SUCCESS: an echo reply.</summary>
    Reply,
    /// <summary>An ICMP error from the network (or the local stack speaking for it): an answer with a kind, type and code.</summary>
    NetworkError,
    /// <summary>IP_REQ_TIMED_OUT: no answer; the prober times the probe out at its own deadline.</summary>
    TimedOut,
    /// <summary>This machine failed the request (no resources, bad option, general failure): SendFailed.</summary>
    LocalFailure,
}

/// <summary>
/// The IP_STATUS codes of <c>ipexport.h</c> (Microsoft's "IP_STATUS" values returned in ICMP_ECHO_REPLY.Status
/// and ICMPV6_ECHO_REPLY.Status) and how each maps to an ICMP message. IPv6 reuses the IPv4 numbers under
/// other names (IP_DEST_NO_ROUTE is IP_DEST_NET_UNREACHABLE, IP_HOP_LIMIT_EXCEEDED is IP_TTL_EXPIRED_TRANSIT),
/// so the type and code depend on the family.
/// </summary>
internal static class IpStatus
{
    public const uint Success = 0;
    public const uint Base = 11000;
    public const uint BufTooSmall = 11001;
    /// <summary>v4: network unreachable; v6: IP_DEST_NO_ROUTE.</summary>
    public const uint DestNetUnreachable = 11002;
    /// <summary>v4: host unreachable; v6: IP_DEST_ADDR_UNREACHABLE.</summary>
    public const uint DestHostUnreachable = 11003;
    /// <summary>v4: protocol unreachable; v6: IP_DEST_PROHIBITED.</summary>
    public const uint DestProtUnreachable = 11004;
    public const uint DestPortUnreachable = 11005;
    public const uint NoResources = 11006;
    public const uint BadOption = 11007;
    public const uint HwError = 11008;
    public const uint PacketTooBig = 11009;
    public const uint ReqTimedOut = 11010;
    public const uint BadReq = 11011;
    public const uint BadRoute = 11012;
    /// <summary>v4: TTL expired in transit; v6: IP_HOP_LIMIT_EXCEEDED.</summary>
    public const uint TtlExpiredTransit = 11013;
    /// <summary>v4: TTL expired during reassembly; v6: IP_REASSEMBLY_TIME_EXCEEDED.</summary>
    public const uint TtlExpiredReassembly = 11014;
    public const uint ParamProblem = 11015;
    public const uint SourceQuench = 11016;
    public const uint OptionTooBig = 11017;
    public const uint BadDestination = 11018;
    public const uint DestUnreachable = 11040;
    public const uint TimeExceeded = 11041;
    public const uint BadHeader = 11042;
    public const uint UnrecognizedNextHeader = 11043;
    public const uint IcmpError = 11044;
    public const uint DestScopeMismatch = 11045;
    public const uint GeneralFailure = 11050;
    public const uint Pending = 11255;

    /// <summary>
    /// Classifies a status and, for answers, gives the ICMP kind, type and code it stands for. Codes the
    /// status names exactly (v4 net/host/protocol/port unreachable, v6 no route/prohibited/address/port/scope)
    /// are kept; the generic IPv6 statuses (IP_DEST_UNREACHABLE, IP_TIME_EXCEEDED, IP_ICMP_ERROR) carry no code,
    /// so they get code 0 of their type. Anything unknown (a newer Windows) is a local failure with its number
    /// kept, never taken for a reply.
    /// </summary>
    public static IpStatusClass Classify(IcmpFamily family, uint status, out IcmpKind kind, out byte type, out byte code)
    {
        var v6 = family == IcmpFamily.IPv6;
        kind = IcmpKind.Unknown;
        type = 0;
        code = 0;
        switch (status)
        {
            case Success:
                kind = IcmpKind.EchoReply;
                type = v6 ? IcmpTypes.V6EchoReply : IcmpTypes.V4EchoReply;
                return IpStatusClass.Reply;
            case ReqTimedOut:
                return IpStatusClass.TimedOut;
            case DestNetUnreachable:
                return Unreachable(v6, 0, out kind, out type, out code);
            case DestHostUnreachable:
                return Unreachable(v6, v6 ? (byte)3 : (byte)1, out kind, out type, out code);
            case DestProtUnreachable:
                return Unreachable(v6, v6 ? (byte)1 : (byte)2, out kind, out type, out code);
            case DestPortUnreachable:
                return Unreachable(v6, v6 ? (byte)4 : (byte)3, out kind, out type, out code);
            case DestScopeMismatch when v6:
                return Unreachable(v6, 2, out kind, out type, out code);
            case DestUnreachable:
                return Unreachable(v6, 0, out kind, out type, out code);
            case SourceQuench when !v6:
                // Source Quench (type 4, deprecated by RFC 6633) has no status of its own in IcmpStatus: the host
                // refused the datagram, which a user reads as unreachable; the type says which message it was.
                kind = IcmpKind.DestinationUnreachable;
                type = 4;
                return IpStatusClass.NetworkError;
            case PacketTooBig:
                if (v6)
                {
                    kind = IcmpKind.PacketTooBig;
                    type = IcmpTypes.V6PacketTooBig;
                    return IpStatusClass.NetworkError;
                }
                // IPv4 has no Packet Too Big message: it is Destination Unreachable, fragmentation needed (code 4),
                // which the raw parser reports the same way.
                return Unreachable(v6, 4, out kind, out type, out code);
            case TtlExpiredTransit:
            case TimeExceeded:
                kind = IcmpKind.TimeExceeded;
                type = v6 ? IcmpTypes.V6TimeExceeded : IcmpTypes.V4TimeExceeded;
                return IpStatusClass.NetworkError;
            case TtlExpiredReassembly:
                kind = IcmpKind.TimeExceeded;
                type = v6 ? IcmpTypes.V6TimeExceeded : IcmpTypes.V4TimeExceeded;
                code = 1;
                return IpStatusClass.NetworkError;
            case ParamProblem:
            case BadHeader:
            case IcmpError:
                kind = IcmpKind.ParameterProblem;
                type = v6 ? IcmpTypes.V6ParameterProblem : IcmpTypes.V4ParameterProblem;
                return IpStatusClass.NetworkError;
            case UnrecognizedNextHeader:
                kind = IcmpKind.ParameterProblem;
                type = v6 ? IcmpTypes.V6ParameterProblem : IcmpTypes.V4ParameterProblem;
                code = 1;
                return IpStatusClass.NetworkError;
            default:
                // IP_BUF_TOO_SMALL, IP_NO_RESOURCES, IP_BAD_OPTION, IP_HW_ERROR, IP_BAD_REQ, IP_BAD_ROUTE,
                // IP_OPTION_TOO_BIG, IP_BAD_DESTINATION, IP_GENERAL_FAILURE and the adapter events (11019-11034).
                kind = IcmpKind.LocalFailure;
                return IpStatusClass.LocalFailure;
        }
    }

    /// <summary>The status a probe ends with, as the prober will report it (for the mapping table's tests and docs).</summary>
    public static IcmpStatus ProbeStatusOf(IcmpFamily family, uint status) => Classify(family, status, out var kind, out _, out _) switch
    {
        IpStatusClass.Reply => IcmpStatus.Success,
        IpStatusClass.TimedOut => IcmpStatus.TimedOut,
        IpStatusClass.LocalFailure => IcmpStatus.SendFailed,
        _ => kind switch
        {
            IcmpKind.DestinationUnreachable => IcmpStatus.DestinationUnreachable,
            IcmpKind.TimeExceeded => IcmpStatus.TimeExceeded,
            IcmpKind.PacketTooBig => IcmpStatus.PacketTooBig,
            _ => IcmpStatus.ParameterProblem,
        },
    };

    private static IpStatusClass Unreachable(bool v6, byte unreachableCode, out IcmpKind kind, out byte type, out byte code)
    {
        kind = IcmpKind.DestinationUnreachable;
        type = v6 ? IcmpTypes.V6DestinationUnreachable : IcmpTypes.V4DestinationUnreachable;
        code = unreachableCode;
        return IpStatusClass.NetworkError;
    }
}
