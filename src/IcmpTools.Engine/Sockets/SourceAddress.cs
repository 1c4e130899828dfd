using System.Net;
using System.Net.NetworkInformation;
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
        // Windows refuses to bind an address no interface has (WSAEADDRNOTAVAIL, as Microsoft documents bind), so
        // the bind above is its answer too. Wine binds it anyway, and then its raw sockets send from it and its
        // iphlpapi ignores it: the interface list gives Windows' answer under Wine as well. All of 127.0.0.0/8 is
        // loopback on Windows, though its adapter lists 127.0.0.1 alone.
        if (OperatingSystem.IsWindows() && !IPAddress.IsLoopback(source) && !IsOnAnInterface(source))
        {
            throw new SocketAddressException(source, "it is not an address of this machine.");
        }
    }

    private static bool IsOnAnInterface(IPAddress source)
    {
        var bytes = source.GetAddressBytes();
        foreach (var adapter in NetworkInterface.GetAllNetworkInterfaces())
        {
            foreach (var unicast in adapter.GetIPProperties().UnicastAddresses)
            {
                if (unicast.Address.AddressFamily == source.AddressFamily && unicast.Address.GetAddressBytes().AsSpan().SequenceEqual(bytes))
                {
                    return true;
                }
            }
        }
        return false;
    }
}
