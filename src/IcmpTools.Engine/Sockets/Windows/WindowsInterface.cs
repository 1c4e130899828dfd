using System.Globalization;
using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Sockets.Windows;

/// <summary>
/// -Interface the Windows way: by interface alias (what Get-NetAdapter and ipconfig call the name) or by
/// interface index (Get-NetIPInterface's ifIndex). Windows has no SO_BINDTODEVICE; the transports send from the
/// interface's address and, on raw sockets, name the interface with IP_UNICAST_IF / IPV6_UNICAST_IF.
/// </summary>
internal static class WindowsInterface
{
    /// <summary>The interface and the address of <paramref name="family"/> to send from.</summary>
    /// <exception cref="SocketUnavailableException">No interface has that alias or index, or it has no address of the family.</exception>
    public static (int Index, IPAddress Address) Resolve(string nameOrIndex, IcmpFamily family) =>
        Resolve(nameOrIndex, family, NetworkInterface.GetAllNetworkInterfaces());

    /// <summary>The lookup over a given list (tests pass the machine's own).</summary>
    public static (int Index, IPAddress Address) Resolve(string nameOrIndex, IcmpFamily family, IEnumerable<NetworkInterface> interfaces)
    {
        ArgumentException.ThrowIfNullOrEmpty(nameOrIndex);
        ArgumentNullException.ThrowIfNull(interfaces);
        var wantsIndex = int.TryParse(nameOrIndex, NumberStyles.None, CultureInfo.InvariantCulture, out var index);
        var addressFamily = family == IcmpFamily.IPv4 ? AddressFamily.InterNetwork : AddressFamily.InterNetworkV6;
        foreach (var nic in interfaces)
        {
            var properties = nic.GetIPProperties();
            var nicIndex = IndexOf(properties, family);
            var matches = wantsIndex ? nicIndex == index : string.Equals(nic.Name, nameOrIndex, StringComparison.OrdinalIgnoreCase);
            if (!matches)
            {
                continue;
            }
            // A global address before a link-local one: a link-local source needs a scope the caller did not give.
            var address = properties.UnicastAddresses.Select(u => u.Address)
                .Where(a => a.AddressFamily == addressFamily)
                .OrderBy(a => a.IsIPv6LinkLocal ? 1 : 0)
                .FirstOrDefault();
            if (address is null)
            {
                throw new SocketUnavailableException($"The interface '{nic.Name}' (index {nicIndex}) has no {family} address.");
            }
            return (nicIndex, address);
        }
        throw new SocketUnavailableException(wantsIndex
            ? $"There is no interface with index {index}."
            : $"There is no interface '{nameOrIndex}' (give its alias, as Get-NetAdapter shows it, or its ifIndex).");
    }

    private static int IndexOf(IPInterfaceProperties properties, IcmpFamily family)
    {
        try
        {
            return family == IcmpFamily.IPv4 ? properties.GetIPv4Properties()?.Index ?? -1 : properties.GetIPv6Properties()?.Index ?? -1;
        }
        catch (NetworkInformationException)
        {
            // The interface does not run this family.
            return -1;
        }
    }
}
