using System.Collections;
using System.Management.Automation;
using System.Net;

namespace IcmpTools.Binding;

/// <summary>
/// Binds an <see cref="IPAddress"/> piped to -TargetName as the address it is. Without this, PowerShell's
/// by-property-name binding reads the object's own <c>Address</c> property through the parameter's
/// <c>Address</c> alias (kept so Host objects pipe back in): an integer for IPv4, an exception for IPv6.
/// Transformations run when the value is first offered by value, so the address binds before any
/// property is read.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class TargetNameTransformationAttribute : ArgumentTransformationAttribute
{
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData) => inputData switch
    {
        PSObject { BaseObject: IPAddress address } => address.ToString(),
        IPAddress address => address.ToString(),
        // -TargetName ([ipaddress]'::1'), (Get-NetAddresses): an array of addresses given as an argument.
        IEnumerable many and not string when IsAddressList(many) => many.Cast<object>().Select(Unwrap).Select(a => a.ToString()).ToArray(),
        _ => inputData,
    };

    private static bool IsAddressList(IEnumerable values)
    {
        var any = false;
        foreach (var value in values)
        {
            if (Unwrap(value) is not IPAddress)
            {
                return false;
            }
            any = true;
        }
        return any;
    }

    private static object Unwrap(object value) => value is PSObject wrapped ? wrapped.BaseObject : value;
}
