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
    /// <summary>Under <see cref="_gate"/>: the descriptor is gone (and its number may be another file's by now).</summary>
    private bool _disposed;

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

    public unsafe int Query(in IpKey destination)
    {
        Span<byte> name = stackalloc byte[28];
        name.Clear();
        var length = SocketOptions.WriteSockAddr(name, _family, destination);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(name[2..], AnyPort);
        var mtu = 0;
        var size = (uint)sizeof(int);
        lock (_gate)
        {
            if (_disposed)
            {
                return 0;
            }
            // connect(2) and getsockopt(2) on the descriptor, not Socket.Connect: once one connect was refused (no route,
            // a broadcast address) .NET takes the Socket for disconnected and refuses every later Connect with an
            // InvalidOperationException, which failed every later search on a prober the pool shares.
            var fd = (int)_socket.Handle;
            fixed (byte* address = name)
            {
                if (LibC.connect(fd, address, (uint)length) != 0)
                {
                    // No route: the MTU is unknown, the send failure stands.
                    return 0;
                }
            }
            var read = _family == IcmpFamily.IPv4
                ? LibC.getsockopt(fd, LibC.IPPROTO_IP, IP_MTU, &mtu, &size)
                : LibC.getsockopt(fd, LibC.IPPROTO_IPV6, IPV6_MTU, &mtu, &size);
            return read == 0 && size == sizeof(int) ? Math.Max(0, mtu) : 0;
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            _socket.Dispose();
        }
    }
}
