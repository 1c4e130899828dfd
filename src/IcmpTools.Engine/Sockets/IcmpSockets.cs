using System.Net.Sockets;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Sockets;

/// <summary>Opens the ICMP sockets every transport is built on, with the errors the cmdlets tell apart.</summary>
internal static class IcmpSockets
{
    /// <summary>An ICMP (IPv4) or ICMPv6 socket of the given kind.</summary>
    /// <param name="type">Raw, or Dgram for Linux's unprivileged "ping" socket.</param>
    /// <param name="permissionAdvice">What to tell a user the platform refused it to (access denied): the fix differs
    /// by platform and socket kind, and is worked out only when it is needed.</param>
    /// <exception cref="SocketPermissionException">The platform refused it for lack of privilege.</exception>
    /// <exception cref="SocketUnavailableException">Any other failure to open it.</exception>
    public static Socket Open(IcmpFamily family, SocketType type, Func<string> permissionAdvice)
    {
        try
        {
            return family == IcmpFamily.IPv4
                ? new Socket(AddressFamily.InterNetwork, type, ProtocolType.Icmp)
                : new Socket(AddressFamily.InterNetworkV6, type, ProtocolType.IcmpV6);
        }
        catch (SocketException e) when (e.SocketErrorCode is SocketError.AccessDenied)
        {
            throw new SocketPermissionException(permissionAdvice(), e);
        }
        catch (SocketException e)
        {
            var kind = type switch { SocketType.Raw => "raw", SocketType.Dgram => "datagram", _ => type.ToString() };
            throw new SocketUnavailableException($"Could not open a {kind} {family} ICMP socket: {e.Message}", e);
        }
    }
}
