using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Sockets;

/// <summary>What makes two probers different sockets: the family, the socket kind and the options set on the socket itself.</summary>
/// <param name="Interface">Bind to this device (SO_BINDTODEVICE); null for none.</param>
/// <param name="Broadcast">May send to broadcast addresses (SO_BROADCAST).</param>
/// <param name="FramePath">
/// A raw socket may send through packet sockets as Ethernet frames (Linux). Off for a user of a few probes (a path MTU
/// search): the frame path's set-up (packet sockets, netlink reads of the routing tables) costs more than it saves them.
/// Such a raw socket also takes its answers a few at a time, into a smaller pinned buffer.
/// </param>
public readonly record struct ProberKey(IcmpFamily Family, SocketKind Kind = SocketKind.Raw, bool DontFragment = false,
    string? Interface = null, bool Broadcast = false, bool FramePath = true);

/// <summary>
/// Opens the transport a key asks for, on the calling thread (so in its network namespace). The platform picks
/// the strategy: on Windows <see cref="SocketKind.Raw"/> is a raw Winsock socket (Administrator) and
/// <see cref="SocketKind.Datagram"/>, the unprivileged kind, is iphlpapi's request/response API.
/// </summary>
public static class TransportFactory
{
    public static IIcmpTransport Open(ProberKey key, TimeProvider? clock = null)
    {
        if (OperatingSystem.IsWindows())
        {
            return key.Kind == SocketKind.Raw
                ? new Windows.WinsockRawTransport(key.Family, key.DontFragment, clock, key.Interface, key.Broadcast)
                : new Windows.IpHelperTransport(key.Family, key.DontFragment, clock, key.Interface, key.Broadcast);
        }
        return key.Kind == SocketKind.Raw
            ? new RawSocketTransport(key.Family, key.DontFragment, clock, key.Interface, key.Broadcast, key.FramePath)
            : new DatagramSocketTransport(key.Family, key.DontFragment, clock, key.Interface, key.Broadcast);
    }
}
