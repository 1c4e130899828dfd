using System.Management.Automation;
using IcmpTools.Binding;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;

namespace IcmpTools.Commands;

/// <summary>
/// Trace-IcmpRoute: a parallel, flow-stable traceroute. One Hop per distance, streamed in distance order
/// as each becomes final; several targets are traced at once. What the network answered (silence,
/// Destination Unreachable) is data in the Hops; only a bad input or a broken tool is an ErrorRecord.
/// </summary>
[Cmdlet(VerbsDiagnostic.Trace, "IcmpRoute")]
[OutputType(typeof(Hop))]
public sealed class TraceIcmpRouteCommand : IcmpCmdletBase
{
    private TracerouteOptions _options = new();
    private IcmpFamily? _family;

    public TraceIcmpRouteCommand()
    {
        // A traceroute probe is ICMP header + 32 bytes, as traceroute -I sends (60-byte IPv4 packets).
        BufferSize = 32;
    }

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("ComputerName", "Address", "IPAddress", "Name")]
    [ValidateNotNullOrEmpty]
    [TargetNameTransformation]
    public string[] TargetName { get; set; } = [];

    [Parameter]
    [ValidateRange(1, 1000)]
    public int Count { get; set; } = 3;

    [Parameter]
    [ValidateRange(0.0, 3600.0)]
    public double IntervalSeconds { get; set; }

    [Parameter]
    [ValidateRange(0.001, 3600.0)]
    public double TimeoutSeconds { get; set; } = 2;

    [Parameter]
    [ValidateRange(1, 255)]
    public int MinHops { get; set; } = 1;

    [Parameter]
    [ValidateRange(1, 255)]
    public int MaxHops { get; set; } = 30;

    [Parameter]
    [ValidateRange(1, 255)]
    public int MaxSilentHops { get; set; } = 5;

    [Parameter]
    public SwitchParameter FastMode { get; set; }

    [Parameter]
    public SwitchParameter Multipath { get; set; }

    [Parameter]
    [ValidateRange(0, TracerouteOptions.MaxFlowId)]
    public int FlowId { get; set; }

    [Parameter]
    [Alias("ResolveDestination")]
    public SwitchParameter ResolveNames { get; set; }

    [Parameter]
    [ValidateRange(0, 10_000_000)]
    public int Rate { get; set; }

    protected override void BeginProcessing()
    {
        if (MyInvocation.BoundParameters.ContainsKey(nameof(Ttl)))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.TraceTtlNotUsed), ErrorIds.ConflictingParameters,
                ErrorCategory.InvalidArgument, null));
        }
        if (Multipath && (FastMode || MyInvocation.BoundParameters.ContainsKey(nameof(Count))))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(FastMode ? Strings.MultipathFastMode : Strings.MultipathCount),
                ErrorIds.ConflictingParameters, ErrorCategory.InvalidArgument, null));
        }
        _family = RequestedFamily();
        PrepareSource(Source);
        _options = new TracerouteOptions
        {
            Count = Count,
            Interval = TimeSpan.FromSeconds(IntervalSeconds),
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
            MinHops = MinHops,
            MaxHops = MaxHops,
            MaxSilentHops = MaxSilentHops,
            FastMode = FastMode,
            Multipath = Multipath,
            FlowId = FlowId,
            PayloadSize = BufferSize,
            TrafficClass = TrafficClass,
            Source = SourceAddressValue,
            ResolveNames = ResolveNames,
            Rate = Rate,
        };
        try
        {
            _options.Validate();
        }
        catch (ArgumentOutOfRangeException e)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Format(Strings.TraceInvalidOption, e.Message), e),
                ErrorIds.InvalidParameterValue, ErrorCategory.InvalidArgument, e.ActualValue));
        }
        OpenProbers(dontFragment: false);
        WarnIfFlowNotHeld();
    }

    /// <summary>
    /// A transport that writes the ICMP header itself (Windows' iphlpapi) cannot keep a trace on one path
    /// behind a per-flow balancer; -Multipath refuses in the engine, a plain trace goes on and says so once.
    /// </summary>
    private void WarnIfFlowNotHeld()
    {
        if (Multipath)
        {
            return;
        }
        foreach (var family in new[] { IcmpFamily.IPv4, IcmpFamily.IPv6 })
        {
            if (ProberFor(family) is { Capabilities: { SupportsParis: false } capabilities })
            {
                WriteWarning(Format(Strings.TraceFlowNotHeld, capabilities.Limits()[0]));
                return;
            }
        }
    }

    protected override void ProcessRecord()
    {
        foreach (var target in TargetName)
        {
            Track(target, () => TraceTargetAsync(target));
        }
        DrainAvailable();
    }

    protected override void EndProcessing() => DrainToEnd();

    private async Task TraceTargetAsync(string target)
    {
        var address = OneHostTarget.AsSingleAddress(target, _family, MyInvocation.MyCommand.Name)
            ?? await TargetResolver.ResolveAsync(target, _family, StopToken).ConfigureAwait(false);
        if (ProberFor(address, target) is not { } prober)
        {
            return;
        }
        await foreach (var hop in Traceroute.StreamAsync(prober, address, _options, StopToken).ConfigureAwait(false))
        {
            await PostAsync(hop).ConfigureAwait(false);
        }
    }
}
