using System.Management.Automation;
using System.Net;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;

namespace IcmpTools.Commands;

/// <summary>
/// New-IcmpSocket: icmplib's ICMPv4Socket / ICMPv6Socket. Returns an IcmpSocket to Send requests built with
/// New-IcmpRequest and Receive their replies; raw when permitted, else datagram (-Unprivileged: datagram only).
/// </summary>
[Cmdlet(VerbsCommon.New, "IcmpSocket")]
[OutputType(typeof(IcmpSocket))]
public sealed class NewIcmpSocketCommand : PSCmdlet
{
    /// <summary>An IPv6 (ICMPv6) socket; without it IPv4, unless -Source is an IPv6 address.</summary>
    [Parameter]
    public SwitchParameter IPv6 { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Binding.SourceAddressCompleter))]
    public string? Source { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Binding.InterfaceNameCompleter))]
    public string? Interface { get; set; }

    [Parameter]
    public SwitchParameter Unprivileged { get; set; }

    [Parameter]
    public SwitchParameter Broadcast { get; set; }

    private static string Format(string format, params object?[] args) =>
        string.Format(System.Globalization.CultureInfo.CurrentCulture, format, args);

    protected override void EndProcessing()
    {
        IPAddress? source = null;
        if (Source is not null && !TargetResolver.TryParseLiteral(Source, out source))
        {
            ThrowTerminatingError(new ErrorRecord(new SocketAddressException(Format(Strings.InvalidSource, Source)),
                ErrorIds.InvalidSourceAddress, ErrorCategory.InvalidArgument, Source));
        }
        var family = IPv6 || source is { AddressFamily: System.Net.Sockets.AddressFamily.InterNetworkV6 } ? IcmpFamily.IPv6 : IcmpFamily.IPv4;
        try
        {
            var socket = IcmpSocket.Open(family, source, Interface, Unprivileged, Broadcast);
            WriteVerbose(Format(Strings.SocketKindUsed, family, socket.IsPrivileged ? "raw (privileged)" : "datagram (unprivileged)"));
            WriteObject(socket);
        }
        catch (SocketAddressException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, ErrorIds.InvalidSourceAddress, ErrorCategory.InvalidArgument, Source));
        }
        catch (SocketPermissionException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, ErrorIds.SocketPermissionDenied, ErrorCategory.PermissionDenied, null));
        }
        catch (IcmpPlatformNotSupportedException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, ErrorIds.PlatformNotSupported, ErrorCategory.NotImplemented, null));
        }
        catch (SocketUnavailableException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, ErrorIds.SocketUnavailable, ErrorCategory.ResourceUnavailable, Interface));
        }
    }
}
