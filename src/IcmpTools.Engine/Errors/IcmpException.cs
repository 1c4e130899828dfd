using System.Net;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Errors;

/// <summary>Root of every failure the engine raises, after icmplib's ICMPLibError tree.</summary>
public class IcmpException : Exception
{
    public IcmpException() { }
    public IcmpException(string message) : base(message) { }
    public IcmpException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>The process may not open the socket it needs (no root, no CAP_NET_RAW).</summary>
public sealed class SocketPermissionException : IcmpException
{
    public SocketPermissionException() { }
    public SocketPermissionException(string message) : base(message) { }
    public SocketPermissionException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>An address that cannot be used as the source: not assigned to this machine, or of the wrong family.</summary>
public sealed class SocketAddressException : IcmpException
{
    public SocketAddressException() { }
    public SocketAddressException(string message) : base(message) { }
    public SocketAddressException(string message, Exception innerException) : base(message, innerException) { }
    public SocketAddressException(IPAddress address, string reason)
        : base($"The source address '{address}' cannot be used: {reason}") => Address = address.ToString();
    public string? Address { get; }
}

/// <summary>The socket was closed or never opened, so nothing can be sent on it.</summary>
public sealed class SocketUnavailableException : IcmpException
{
    public SocketUnavailableException() { }
    public SocketUnavailableException(string message) : base(message) { }
    public SocketUnavailableException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>A broadcast destination was given without permission to broadcast.</summary>
public sealed class SocketBroadcastException : IcmpException
{
    public SocketBroadcastException() { }
    public SocketBroadcastException(string message) : base(message) { }
    public SocketBroadcastException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>No answer arrived in time (raised only by the low-level socket's receive; operations report a status).</summary>
public sealed class TimeoutExceededException : IcmpException
{
    public TimeoutExceededException() { }
    public TimeoutExceededException(string message) : base(message) { }
    public TimeoutExceededException(string message, Exception innerException) : base(message, innerException) { }
    public TimeoutExceededException(TimeSpan timeout) : base($"No answer within {timeout.TotalSeconds:0.###} s.") => Timeout = timeout;
    public TimeSpan Timeout { get; }
}

/// <summary>A name that does not resolve to an address of the wanted family.</summary>
public sealed class NameResolutionException : IcmpException
{
    public NameResolutionException() { }
    public NameResolutionException(string message) : base(message) { }
    public NameResolutionException(string message, Exception innerException) : base(message, innerException) { }
    public NameResolutionException(string name, string reason, Exception? innerException = null)
        : base($"The name '{name}' could not be resolved: {reason}", innerException!) => Name = name;
    public string? Name { get; }
}

/// <summary>An ICMP error message that answered a probe; the v4/v6 type and code are kept.</summary>
public abstract class IcmpErrorMessageException : IcmpException
{
    protected IcmpErrorMessageException() { }
    protected IcmpErrorMessageException(string message) : base(message) { }
    protected IcmpErrorMessageException(string message, Exception innerException) : base(message, innerException) { }
    protected IcmpErrorMessageException(Reply reply, string description)
        : base(reply.Type < 0
            ? $"{description} ({reply.Family}: this machine refused the send, path MTU {reply.Mtu})"
            : $"{description} (from {reply.Source}, {reply.Family} type {reply.Type} code {reply.Code}{(reply.Mtu is { } mtu ? $", MTU {mtu}" : "")}{(reply.Pointer is { } at ? $", pointer {at}" : "")})")
    {
        Reply = reply;
    }

    public Reply? Reply { get; }
    public IcmpFamily Family => Reply?.Family ?? IcmpFamily.IPv4;
    public int Code => Reply?.Code ?? -1;
    /// <summary>The MTU a Fragmentation Needed / Packet Too Big named (see <see cref="Models.Reply.Mtu"/>); null otherwise.</summary>
    public int? Mtu => Reply?.Mtu;
    /// <summary>A Parameter Problem's pointer; null otherwise.</summary>
#pragma warning disable CA1720 // "Pointer" is RFC 792's own name for the parameter problem field.
    public int? Pointer => Reply?.Pointer;
#pragma warning restore CA1720

    /// <summary>Turns an error reply into its exception, for callers that want errors raised (icmplib's raise_for_status).</summary>
    public static IcmpErrorMessageException? FromReply(Reply reply)
    {
        ArgumentNullException.ThrowIfNull(reply);
        return reply.Status switch
        {
            IcmpStatus.DestinationUnreachable => new DestinationUnreachableException(reply),
            IcmpStatus.TimeExceeded => new TimeExceededException(reply),
            IcmpStatus.PacketTooBig => new PacketTooBigException(reply),
            IcmpStatus.ParameterProblem => new ParameterProblemException(reply),
            _ => null,
        };
    }
}

public sealed class DestinationUnreachableException : IcmpErrorMessageException
{
    public DestinationUnreachableException() { }
    public DestinationUnreachableException(string message) : base(message) { }
    public DestinationUnreachableException(string message, Exception innerException) : base(message, innerException) { }
    public DestinationUnreachableException(Reply reply) : base(reply, IcmpCodes.Describe(reply.Family, reply.Type, reply.Code)) { }
}

public sealed class TimeExceededException : IcmpErrorMessageException
{
    public TimeExceededException() { }
    public TimeExceededException(string message) : base(message) { }
    public TimeExceededException(string message, Exception innerException) : base(message, innerException) { }
    public TimeExceededException(Reply reply) : base(reply, IcmpCodes.Describe(reply.Family, reply.Type, reply.Code)) { }
}

public sealed class PacketTooBigException : IcmpErrorMessageException
{
    public PacketTooBigException() { }
    public PacketTooBigException(string message) : base(message) { }
    public PacketTooBigException(string message, Exception innerException) : base(message, innerException) { }
    public PacketTooBigException(Reply reply)
        : base(reply, reply?.Type < 0 ? "Packet too big for the path MTU" : IcmpCodes.Describe(reply!.Family, reply.Type, reply.Code)) { }
}

public sealed class ParameterProblemException : IcmpErrorMessageException
{
    public ParameterProblemException() { }
    public ParameterProblemException(string message) : base(message) { }
    public ParameterProblemException(string message, Exception innerException) : base(message, innerException) { }
    public ParameterProblemException(Reply reply) : base(reply, IcmpCodes.Describe(reply.Family, reply.Type, reply.Code)) { }
}

/// <summary>The operating system is one the engine has no transport for yet (anything but Linux today).</summary>
public sealed class IcmpPlatformNotSupportedException : IcmpException
{
    public IcmpPlatformNotSupportedException() { }
    public IcmpPlatformNotSupportedException(string message) : base(message) { }
    public IcmpPlatformNotSupportedException(string message, Exception innerException) : base(message, innerException) { }
}

/// <summary>
/// The operation needs something the open transport cannot do (see <see cref="Sockets.TransportCapabilities"/>):
/// -Multipath over Windows' iphlpapi, which writes the ICMP header itself. The message says what would work.
/// </summary>
public sealed class TransportCapabilityException : IcmpException
{
    public TransportCapabilityException() { }
    public TransportCapabilityException(string message) : base(message) { }
    public TransportCapabilityException(string message, Exception innerException) : base(message, innerException) { }
    public TransportCapabilityException(string capability, string message) : base(message) => Capability = capability;
    /// <summary>The name of the missing <see cref="Sockets.TransportCapabilities"/> property.</summary>
    public string? Capability { get; }
}
