using System.Management.Automation;
using System.Net;
using IcmpTools.Binding;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;

namespace IcmpTools.Commands;

/// <summary>
/// New-IcmpRequest: an echo request to send on an IcmpSocket. A cmdlet rather than a hashtable cast because
/// Request is immutable (a cast needs a settable default-constructed type), and a cmdlet validates each field
/// by name, resolves names and says why a request is wrong before anything is sent.
/// </summary>
[Cmdlet(VerbsCommon.New, "IcmpRequest")]
[OutputType(typeof(Request))]
public sealed class NewIcmpRequestCommand : PSCmdlet
{
    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("TargetName", "Address")]
    [ValidateNotNullOrEmpty]
    [TargetNameTransformation]
    public string Destination { get; set; } = string.Empty;

    /// <summary>Echo identifier; a datagram (unprivileged) socket replaces it with its own on the wire.</summary>
    [Parameter]
    [ValidateRange(0, 65535)]
    public int Identifier { get; set; } = -1;

    [Parameter]
    [ValidateRange(0, 65535)]
    public int Sequence { get; set; } = 1;

    [Parameter]
    [ValidateCount(0, PingOptions.MaxPayloadSize)]
    public byte[]? Payload { get; set; }

    [Parameter]
    [ValidateRange(0, PingOptions.MaxPayloadSize)]
    public int PayloadSize { get; set; } = 56;

    [Parameter]
    [ValidateRange(1, 255)]
    public int Ttl { get; set; } = 64;

    [Parameter]
    [ValidateRange(0, 255)]
    public int TrafficClass { get; set; }

    /// <summary>Resolve a name to an IPv4 address (the default prefers IPv4).</summary>
    [Parameter]
    public SwitchParameter IPv4 { get; set; }

    [Parameter]
    public SwitchParameter IPv6 { get; set; }

    protected override void BeginProcessing()
    {
        if (Payload is not null && MyInvocation.BoundParameters.ContainsKey(nameof(PayloadSize)))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.ConflictingPayloadSize), ErrorIds.ConflictingParameters,
                ErrorCategory.InvalidArgument, null));
        }
        if (IPv4 && IPv6)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-IPv4 and -IPv6 cannot be used together."),
                ErrorIds.ConflictingParameters, ErrorCategory.InvalidArgument, null));
        }
    }

    protected override void ProcessRecord()
    {
        IPAddress address;
        try
        {
            var family = IPv4 ? IcmpFamily.IPv4 : IPv6 ? IcmpFamily.IPv6 : (IcmpFamily?)null;
            address = OneHostTarget.AsSingleAddress(Destination, family, MyInvocation.MyCommand.Name)
                ?? TargetResolver.ResolveAsync(Destination, family, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (NameResolutionException e)
        {
            WriteError(new ErrorRecord(e, ErrorIds.NameResolutionFailed, ErrorCategory.ObjectNotFound, Destination));
            return;
        }
        catch (TargetIsBlockException e)
        {
            WriteError(new ErrorRecord(e, ErrorIds.TargetIsBlock, ErrorCategory.InvalidArgument, Destination));
            return;
        }
        catch (AddressFamilyMismatchException e)
        {
            WriteError(new ErrorRecord(e, ErrorIds.FamilyMismatch, ErrorCategory.InvalidArgument, Destination));
            return;
        }
        // icmplib's default identifier is the process id; a random one keeps two sessions of one process apart too.
        var identifier = Identifier >= 0 ? Identifier : Random.Shared.Next(1, 65536);
        WriteObject(new Request(address.ToString(), TargetResolver.FamilyOf(address), identifier, Sequence,
            Payload?.Length ?? PayloadSize, Ttl, TrafficClass, DateTime.UtcNow)
        {
            Payload = Payload is null ? null : Array.AsReadOnly(Payload.ToArray()),
        });
    }
}
