using System.Management.Automation;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;

namespace IcmpTools.Commands;

/// <summary>
/// Test-IcmpEcho: ping. One Host per target by default, each Reply as it arrives with -PerReply or
/// -Continuous, one bool per target with -Quiet. Targets are pinged concurrently.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "IcmpEcho", DefaultParameterSetName = DefaultSet)]
[OutputType(typeof(Host), ParameterSetName = [DefaultSet])]
[OutputType(typeof(Reply), ParameterSetName = [DefaultSet, ContinuousSet])]
[OutputType(typeof(bool), ParameterSetName = [DefaultSet])]
public sealed class TestIcmpEchoCommand : IcmpCmdletBase
{
    private const string DefaultSet = "Default";
    private const string ContinuousSet = "Continuous";

    private PingOptions _options = new();
    private IcmpFamily? _family;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("ComputerName", "Address")]
    [ValidateNotNullOrEmpty]
    public string[] TargetName { get; set; } = [];

    [Parameter(ParameterSetName = DefaultSet)]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; } = 4;

    [Parameter(Mandatory = true, ParameterSetName = ContinuousSet)]
    public SwitchParameter Continuous { get; set; }

    [Parameter]
    [ValidateRange(0.0, 3600.0)]
    public double IntervalSeconds { get; set; } = 1;

    [Parameter]
    [ValidateRange(0.001, 3600.0)]
    public double TimeoutSeconds { get; set; } = 2;

    [Parameter]
    [ValidateCount(0, PingOptions.MaxPayloadSize)]
    public byte[]? Payload { get; set; }

    [Parameter]
    public SwitchParameter DontFragment { get; set; }

    [Parameter]
    [ValidateRange(0, 65535)]
    public int Id { get; set; }

    [Parameter(ParameterSetName = DefaultSet)]
    public SwitchParameter PerReply { get; set; }

    [Parameter(ParameterSetName = DefaultSet)]
    public SwitchParameter Quiet { get; set; }

    /// <summary>The target is a broadcast address: one Reply per host that answers each probe before its timeout.</summary>
    [Parameter]
    public SwitchParameter Broadcast { get; set; }

    protected override void BeginProcessing()
    {
        if (Payload is not null && MyInvocation.BoundParameters.ContainsKey(nameof(BufferSize)))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.ConflictingPayload), ErrorIds.ConflictingParameters,
                ErrorCategory.InvalidArgument, null));
        }
        if (Broadcast && Quiet)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-Broadcast and -Quiet cannot be used together: -Broadcast gives one Reply per answering host."),
                ErrorIds.ConflictingParameters, ErrorCategory.InvalidArgument, null));
        }
        if (PerReply && Quiet)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-PerReply and -Quiet cannot be used together."),
                ErrorIds.ConflictingParameters, ErrorCategory.InvalidArgument, null));
        }
        _family = RequestedFamily();
        PrepareSource(Source);
        _options = new PingOptions
        {
            Count = Count,
            Continuous = Continuous,
            Interval = TimeSpan.FromSeconds(IntervalSeconds),
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
            PayloadSize = BufferSize,
            Payload = Payload,
            Ttl = Ttl,
            TrafficClass = TrafficClass,
            DontFragment = DontFragment,
            Source = SourceAddressValue,
            Identifier = MyInvocation.BoundParameters.ContainsKey(nameof(Id)) ? Id : null,
            Broadcast = Broadcast,
        };
        OpenProbers(DontFragment, Broadcast);
    }

    protected override void ProcessRecord()
    {
        foreach (var target in TargetName)
        {
            Track(target, () => PingTargetAsync(target));
        }
        DrainAvailable();
    }

    protected override void EndProcessing() => DrainToEnd();

    private async Task PingTargetAsync(string target)
    {
        var address = await TargetResolver.ResolveAsync(target, _family, StopToken).ConfigureAwait(false);
        if (ProberFor(address, target) is not { } prober)
        {
            return;
        }
        if (PerReply || Continuous || Broadcast)
        {
            await foreach (var reply in Ping.StreamAsync(prober, address, _options, StopToken).ConfigureAwait(false))
            {
                Post(reply);
            }
            return;
        }
        var name = TargetResolver.TryParseLiteral(target, out _) ? null : target;
        var host = await Ping.PingAsync(prober, address, name, _options, StopToken).ConfigureAwait(false);
        Post(Quiet ? host.IsAlive : host);
    }
}
