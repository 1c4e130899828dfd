using System.Net;
using System.Net.Sockets;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Operations;

/// <summary>Turns what a user typed (an address or a name) into the one address to probe.</summary>
public static class TargetResolver
{
    /// <summary>
    /// An address literal is taken as is (an IPv4-mapped IPv6 address as IPv4); a name is resolved with
    /// System.Net.Dns, IPv4 preferred unless <paramref name="family"/> asks for one.
    /// </summary>
    public static async Task<IPAddress> ResolveAsync(string target, IcmpFamily? family, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(target);
        if (TryParseLiteral(target, out var literal))
        {
            if (family is { } wanted && FamilyOf(literal) != wanted)
            {
                throw new AddressFamilyMismatchException($"The target '{target}' is an {FamilyOf(literal)} address, but {wanted} was asked for.");
            }
            return literal;
        }

        IPAddress[] addresses;
        try
        {
            addresses = await Dns.GetHostAddressesAsync(target, family switch
            {
                IcmpFamily.IPv4 => AddressFamily.InterNetwork,
                IcmpFamily.IPv6 => AddressFamily.InterNetworkV6,
                _ => AddressFamily.Unspecified,
            }, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            throw new NameResolutionException(target, e.Message, e);
        }
        catch (ArgumentException e)
        {
            throw new NameResolutionException(target, e.Message, e);
        }

        var chosen = addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && family != IcmpFamily.IPv6)
            ?? addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetworkV6 && family != IcmpFamily.IPv4);
        return chosen ?? throw new NameResolutionException(target,
            family is null ? "it has no IPv4 or IPv6 address." : $"it has no {family} address.");
    }

    /// <summary>Parses an address literal; rejects the partial forms IPAddress.TryParse accepts ("10", "1.2").</summary>
    public static bool TryParseLiteral(string text, out IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(text);
        address = IPAddress.None;
        if (!IPAddress.TryParse(text, out var parsed))
        {
            return false;
        }
        if (parsed.AddressFamily == AddressFamily.InterNetwork && text.Count(c => c == '.') != 3)
        {
            return false;
        }
        address = parsed.IsIPv4MappedToIPv6 ? parsed.MapToIPv4() : parsed;
        return true;
    }

    public static IcmpFamily FamilyOf(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return address.AddressFamily == AddressFamily.InterNetworkV6 ? IcmpFamily.IPv6 : IcmpFamily.IPv4;
    }
}
