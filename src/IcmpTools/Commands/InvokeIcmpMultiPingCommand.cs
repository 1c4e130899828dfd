using System.Diagnostics;
using System.Management.Automation;
using System.Threading.Channels;
using IcmpTools.Binding;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;

namespace IcmpTools.Commands;

/// <summary>
/// Invoke-IcmpMultiPing: sweep many hosts (names, addresses, CIDR blocks, IPv4 ranges) and write each
/// Host the moment it is finished. Targets stream in from the pipeline; blocks expand lazily. -Alive and
/// -Unreachable filter inside the sweep (fping's -a and -u), so hosts nobody wants are never built.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "IcmpMultiPing", DefaultParameterSetName = AllSet)]
[OutputType(typeof(Host))]
public sealed class InvokeIcmpMultiPingCommand : IcmpCmdletBase
{
    private const string AllSet = "All";
    private const string AliveSet = "Alive";
    private const string UnreachableSet = "Unreachable";

    /// <summary>Targets buffered between the pipeline and the sweep; the pipeline waits beyond this.</summary>
    private const int InputBuffer = 1024;

    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(250);

    private readonly Channel<string> _targets = Channel.CreateBounded<string>(
        new BoundedChannelOptions(InputBuffer) { SingleReader = true, SingleWriter = true });
    private MultiPing? _sweep;
    private long _lastProgress;
    private long _started;
    private bool _debug;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("ComputerName", "Address", "IPAddress", "Name")]
    [AllowEmptyString]
    [TargetNameTransformation]
    public string[] TargetName { get; set; } = [];

    /// <summary>Write only the hosts that answered (fping -a).</summary>
    [Parameter(Mandatory = true, ParameterSetName = AliveSet)]
    public SwitchParameter Alive { get; set; }

    /// <summary>Write only the hosts that did not answer (fping -u).</summary>
    [Parameter(Mandatory = true, ParameterSetName = UnreachableSet)]
    public SwitchParameter Unreachable { get; set; }

    [Parameter]
    [ValidateRange(1, 65535)]
    public int Count { get; set; } = 2;

    [Parameter]
    [Alias("Delay")]
    [ValidateRange(0.0, 3600.0)]
    public double IntervalSeconds { get; set; } = 0.5;

    [Parameter]
    [ValidateRange(0.001, 3600.0)]
    public double TimeoutSeconds { get; set; } = 1;

    [Parameter]
    [ValidateRange(0, 10_000_000)]
    public int Rate { get; set; } = 10_000;

    [Parameter]
    [ValidateRange(1, 1_048_576)]
    public int ThrottleLimit { get; set; } = MultiPingOptions.DefaultThrottleLimit;

    [Parameter]
    public SwitchParameter IncludeNetworkAndBroadcast { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void BeginProcessing()
    {
        var family = RequestedFamily();
        PrepareSource(Source);
        OpenProbers(dontFragment: false);
        var emit = Alive ? SweepEmit.Alive : Unreachable ? SweepEmit.Dead : SweepEmit.All;
        var options = new MultiPingOptions
        {
            Count = Count,
            Interval = TimeSpan.FromSeconds(IntervalSeconds),
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
            Rate = Rate,
            ThrottleLimit = ThrottleLimit,
            PayloadSize = BufferSize,
            Ttl = Ttl,
            TrafficClass = TrafficClass,
            Source = SourceAddressValue,
            Family = family,
            IncludeNetworkAndBroadcast = IncludeNetworkAndBroadcast,
            AllowHugeBlocks = Force,
            Emit = emit,
        };
        WriteVerbose(Format(Strings.VerboseSweepStart, SourceDescription, Count, IntervalSeconds, TimeoutSeconds,
            Rate == 0 ? Strings.RateUnpaced : Format(Strings.RatePerSecond, Rate), ThrottleLimit,
            emit switch { SweepEmit.Alive => Strings.EmitAlive, SweepEmit.Dead => Strings.EmitUnreachable, _ => Strings.EmitAll }));
        _debug = DebugWanted;
        _started = Stopwatch.GetTimestamp();
        _sweep = new MultiPing(family => ProberOrThrow(family), options);
        var sweep = _sweep;
        Track("sweep", async () =>
        {
            await foreach (var result in sweep.RunAsync(_targets.Reader.ReadAllAsync(StopToken), StopToken).ConfigureAwait(false))
            {
                if (result.Host is { } host)
                {
                    await PostAsync(host).ConfigureAwait(false);
                }
                else if (result.Error is not null && !PostTargetError(result.Error, result.Target))
                {
                    throw result.Error;
                }
            }
        });
    }

    private Engine.Probing.Prober ProberOrThrow(IcmpFamily family) =>
        ProberFor(family) ?? throw new Engine.Errors.SocketUnavailableException($"No {family} ICMP socket could be opened on this machine.");

    protected override void ProcessRecord()
    {
        foreach (var target in TargetsOf(TargetName))
        {
            if (_debug)
            {
                WriteDebug(Format(Strings.DebugTarget, target));
            }
            if (!_targets.Writer.TryWrite(target))
            {
                DrainUntil(_targets.Writer.WriteAsync(target, StopToken).AsTask());
            }
        }
        DrainAvailable();
    }

    protected override void EndProcessing()
    {
        _targets.Writer.TryComplete();
        DrainToEnd();
        WriteProgress(new ProgressRecord(1, Strings.ProgressActivity, " ") { RecordType = ProgressRecordType.Completed });
        if (_sweep is { } sweep)
        {
            var seconds = Stopwatch.GetElapsedTime(_started).TotalSeconds;
            WriteVerbose(Format(Strings.VerboseSweepDone, sweep.HostsDone, sweep.HostsAlive, sweep.ProbesSent, seconds, sweep.ProbeRate));
            foreach (var family in (ReadOnlySpan<IcmpFamily>)[IcmpFamily.IPv4, IcmpFamily.IPv6])
            {
                if (ProberFor(family)?.SendPathSummary is { } path)
                {
                    WriteVerbose(Format(Strings.VerboseSendPath, family, path));
                }
            }
        }
    }

    protected override void OnDrained()
    {
        if (_sweep is null || Stopwatch.GetElapsedTime(_lastProgress) < ProgressEvery)
        {
            return;
        }
        _lastProgress = Stopwatch.GetTimestamp();
        var total = _sweep.TotalHosts;
        var status = total is { } t
            ? Format(Strings.ProgressStatus, _sweep.HostsDone, t, _sweep.HostsAlive, _sweep.ProbeRate)
            : Format(Strings.ProgressStatusUnknownTotal, _sweep.HostsDone, _sweep.HostsAlive, _sweep.ProbeRate);
        var record = new ProgressRecord(1, Strings.ProgressActivity, status);
        if (total is > 0)
        {
            record.PercentComplete = (int)Math.Min(100, _sweep.HostsDone * 100 / total.Value);
        }
        WriteProgress(record);
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing)
        {
            _sweep?.Dispose();
        }
    }
}
