using System.Buffers.Binary;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using System.Numerics;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// The IPv4 broadcast addresses of a network namespace's interfaces, read when a socket opens, on the
/// opening thread and so in its namespace (operations later run on pool threads, which may be in another).
/// Linux refuses a send with EACCES both to a broadcast address on a socket without SO_BROADCAST and along
/// a prohibit route (or by policy); only the destination tells the two apart. An address added to an
/// interface after the socket opened is not known: a send to it reads as refused, not as a broadcast.
/// </summary>
public sealed class LocalBroadcasts
{
    private readonly Lazy<HashSet<IPAddress>> _addresses;

    private LocalBroadcasts(HashSet<IPAddress> addresses) => _addresses = new(addresses);

    private LocalBroadcasts(Func<HashSet<IPAddress>> read) => _addresses = new(read, LazyThreadSafetyMode.ExecutionAndPublication);

    /// <summary>No interface broadcasts known (a fake transport, an IPv6 socket): only 255.255.255.255 counts.</summary>
    public static LocalBroadcasts None { get; } = new([]);

    /// <summary>
    /// Reads the broadcast addresses of the calling thread's namespace (IPv4 prefixes up to /30). Off Linux, where a
    /// thread has no network namespace of its own, they are read when first asked for instead: on Windows the list
    /// comes from NetworkInterface, which under Wine is a dozen requests to its nsiproxy driver in another process
    /// (6-38 ms a prober opening, measured), and most operations never ask (only a refused send does).
    /// </summary>
    public static LocalBroadcasts Read() => OperatingSystem.IsLinux() ? new(ReadInterfaceAddresses()) : new(ReadNetworkInterfaces);

    /// <summary>
    /// getifaddrs(3), one netlink dump: every prober opening reads these (a path MTU search opens one per call), and
    /// NetworkInterface's list takes ten times as long here (it reads sysfs and procfs files no broadcast needs).
    /// </summary>
    internal static unsafe HashSet<IPAddress> ReadInterfaceAddresses()
    {
        var addresses = new HashSet<IPAddress>();
        LibC.IfAddrs* list;
        if (LibC.getifaddrs(&list) != 0)
        {
            // Interfaces unreadable: limited broadcast is still known, and a refusal reads as refused.
            return addresses;
        }
        try
        {
            for (var entry = list; entry != null; entry = entry->Next)
            {
                // struct sockaddr_in: family (2 bytes), port (2), address (4, network order).
                if (entry->Address == null || entry->Netmask == null || *(ushort*)entry->Address != LibC.AF_INET)
                {
                    continue;
                }
                var mask = BinaryPrimitives.ReadUInt32BigEndian(new ReadOnlySpan<byte>(entry->Netmask + 4, 4));
                var prefixLength = BitOperations.PopCount(mask);
                if (prefixLength is > 0 and <= 30)
                {
                    addresses.Add(BroadcastOf(new IPAddress(new ReadOnlySpan<byte>(entry->Address + 4, 4)), prefixLength));
                }
            }
        }
        finally
        {
            LibC.freeifaddrs(list);
        }
        return addresses;
    }

    /// <summary>The portable reading (Windows, macOS), which the Linux one must agree with.</summary>
    internal static HashSet<IPAddress> ReadNetworkInterfaces()
    {
        var addresses = new HashSet<IPAddress>();
        try
        {
            foreach (var nic in NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in nic.GetIPProperties().UnicastAddresses)
                {
                    if (unicast.Address.AddressFamily == AddressFamily.InterNetwork && unicast.PrefixLength is > 0 and <= 30)
                    {
                        addresses.Add(BroadcastOf(unicast.Address, unicast.PrefixLength));
                    }
                }
            }
        }
        catch (NetworkInformationException)
        {
            // Interfaces unreadable: limited broadcast is still known, and a refusal reads as refused.
        }
        return addresses;
    }

    /// <summary>True for 255.255.255.255 and for the directed broadcast address of a local IPv4 subnet.</summary>
    public bool Contains(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.Equals(IPAddress.Broadcast) || _addresses.Value.Contains(address);
    }

    internal static IPAddress BroadcastOf(IPAddress address, int prefixLength)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        var hostBits = uint.MaxValue >> prefixLength;
        BinaryPrimitives.WriteUInt32BigEndian(bytes, BinaryPrimitives.ReadUInt32BigEndian(bytes) | hostBits);
        return new IPAddress(bytes);
    }
}
