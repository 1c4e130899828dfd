using System.Globalization;
using System.Net;
using System.Text;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;

namespace IcmpTools.Binding;

/// <summary>
/// How the cmdlets that take one host per target (Test-IcmpEcho, Trace-IcmpRoute, New-IcmpRequest) read a
/// target written as a block or a range: one address (a /32, a /128) is that address; more is a sweep's job,
/// and the error says so instead of "name could not be resolved".
/// </summary>
public static class OneHostTarget
{
    private static readonly CompositeFormat BlockMessage = CompositeFormat.Parse(Strings.TargetIsBlock);

    /// <summary>The one address a block or range stands for; null when the target is an address or a name for the resolver.</summary>
    /// <exception cref="TargetIsBlockException">The target stands for more than one address.</exception>
    /// <exception cref="AddressFamilyMismatchException">The address is not of <paramref name="family"/>.</exception>
    public static IPAddress? AsSingleAddress(string target, IcmpFamily? family, string cmdlet)
    {
        ArgumentNullException.ThrowIfNull(target);
        if (!target.Contains('/', StringComparison.Ordinal) && !target.Contains('-', StringComparison.Ordinal))
        {
            return null;
        }
        SweepTarget block;
        try
        {
            block = SweepTarget.Parse(target, includeNetworkAndBroadcast: true, allowHuge: true);
        }
        catch (InvalidTargetException) when (!target.Contains('/', StringComparison.Ordinal))
        {
            // A name with a hyphen (my-router): the resolver decides.
            return null;
        }
        if (block.Name is not null)
        {
            return null;
        }
        if (block.Count != 1)
        {
            throw new TargetIsBlockException(string.Format(CultureInfo.CurrentCulture, BlockMessage, target, block.Count, cmdlet));
        }
        var address = block.Addresses().First();
        if (family is { } wanted && TargetResolver.FamilyOf(address) != wanted)
        {
            throw new AddressFamilyMismatchException($"The target '{target}' is an {TargetResolver.FamilyOf(address)} address, but {wanted} was asked for.");
        }
        return address;
    }
}
