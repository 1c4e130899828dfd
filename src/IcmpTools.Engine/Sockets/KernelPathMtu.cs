using System.Net;
using System.Net.Sockets;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// A transport that can say which path MTU this machine already holds for a destination: what a send
/// refused with EMSGSIZE under DontFragment was measured against. A capability, not part of every
/// transport: the fake network of the tests has one, a transport without DontFragment has none.
/// </summary>
public interface IPathMtuSource
{
    /// <summary>The path MTU the kernel holds for <paramref name="destination"/> (learned from Fragmentation Needed / Packet Too Big, or the route's); 0 when unknown.</summary>
    int PathMtu(in IpKey destination);
}

/// <summary>
/// Reads the kernel's path MTU for a destination as tracepath does: a UDP socket connected to it (connect
/// sends nothing) and getsockopt IP_MTU / IPV6_MTU, which answers from the route and its cached PMTU
/// exception. Opened by the transport's constructor, so it lives in the transport's network namespace.
/// Asked only when a DontFragment send was refused, so one socket and a lock serve every sender.
/// </summary>
internal sealed class KernelPathMtu : IDisposable
{
    private const int IP_MTU = 14;
    private const int IPV6_MTU = 24;
    /// <summary>The discard port: connect on UDP only picks a route, any port does.</summary>
    private const int AnyPort = 9;

    private readonly Socket _socket;
    private readonly IcmpFamily _family;
    private readonly object _gate = new();

    private KernelPathMtu(IcmpFamily family, Socket socket)
    {
        _family = family;
        _socket = socket;
    }

    /// <summary>Null when no UDP socket of the family opens: the MTU is then unknown, which costs only the report.</summary>
    public static KernelPathMtu? TryOpen(IcmpFamily family)
    {
        try
        {
            return new KernelPathMtu(family, new Socket(
                family == IcmpFamily.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6, SocketType.Dgram, ProtocolType.Udp));
        }
        catch (SocketException)
        {
            return null;
        }
    }

    public int Query(in IpKey destination)
    {
        var address = destination.ToAddress(_family);
        Span<byte> value = stackalloc byte[sizeof(int)];
        lock (_gate)
        {
            try
            {
                _socket.Connect(new IPEndPoint(address, AnyPort));
                var length = _family == IcmpFamily.IPv4
                    ? _socket.GetRawSocketOption(LibC.IPPROTO_IP, IP_MTU, value)
                    : _socket.GetRawSocketOption(LibC.IPPROTO_IPV6, IPV6_MTU, value);
                return length == sizeof(int) ? Math.Max(0, BitConverter.ToInt32(value)) : 0;
            }
            catch (SocketException)
            {
                // No route any more, or the socket is closed: the MTU is unknown, the send failure stands.
                return 0;
            }
            catch (ObjectDisposedException)
            {
                return 0;
            }
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _socket.Dispose();
        }
    }
}
