using System.Net;
using System.Net.Sockets;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;

namespace IcmpTools.Engine.Sockets;

/// <summary>Checks, before anything is sent, that a source address can be sent from.</summary>
public static class SourceAddress
{
    /// <summary>
    /// Throws <see cref="SocketAddressException"/> when <paramref name="source"/> is of another family than the
    /// target, or is not assigned to this machine (binding a throwaway UDP socket to it is the kernel's own
    /// answer to that question, in the calling thread's network namespace).
    /// </summary>
    public static void Validate(IPAddress source, IcmpFamily targetFamily)
    {
        ArgumentNullException.ThrowIfNull(source);
        if (TargetResolver.FamilyOf(source) != targetFamily)
        {
            throw new SocketAddressException(source, $"it is an {TargetResolver.FamilyOf(source)} address and the target is {targetFamily}.");
        }
        using var probe = new Socket(source.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            probe.Bind(new IPEndPoint(source, 0));
        }
        catch (SocketException e)
        {
            throw new SocketAddressException(source, e.SocketErrorCode == SocketError.AddressNotAvailable
                ? "it is not an address of this machine."
                : e.Message);
        }
    }
}
