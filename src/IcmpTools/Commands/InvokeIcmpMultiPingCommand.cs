using System.Diagnostics;
using System.Management.Automation;
using System.Threading.Channels;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;

namespace IcmpTools.Commands;

/// <summary>
/// Invoke-IcmpMultiPing: sweep many hosts (names, addresses, CIDR blocks, IPv4 ranges) and write each
/// Host the moment it is finished. Targets stream in from the pipeline; blocks expand lazily.
/// </summary>
[Cmdlet(VerbsLifecycle.Invoke, "IcmpMultiPing")]
[OutputType(typeof(Host))]
public sealed class InvokeIcmpMultiPingCommand : IcmpCmdletBase
{
    /// <summary>Targets buffered between the pipeline and the sweep; the pipeline waits beyond this.</summary>
    private const int InputBuffer = 1024;

    private static readonly TimeSpan ProgressEvery = TimeSpan.FromMilliseconds(250);

    private readonly Channel<string> _targets = Channel.CreateBounded<string>(
        new BoundedChannelOptions(InputBuffer) { SingleReader = true, SingleWriter = true });
    private MultiPing? _sweep;
    private long _lastProgress;

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("ComputerName", "Address", "IPAddress", "Name")]
    [ValidateNotNullOrEmpty]
    public string[] TargetName { get; set; } = [];

    [Parameter]
    [ValidateRange(1, 65535)]
    public int Count { get; set; } = 2;

    [Parameter]
    [ValidateRange(0.0, 3600.0)]
    public double IntervalSeconds { get; set; } = 0.5;

    [Parameter]
    [ValidateRange(0.001, 3600.0)]
    public double TimeoutSeconds { get; set; } = 1;

    [Parameter]
    [ValidateRange(0, 10_000_000)]
    public int Rate { get; set; } = 10_000;

    [Parameter]
    [ValidateRange(1, 131_072)]
    public int ThrottleLimit { get; set; } = 4096;

    [Parameter]
    public SwitchParameter IncludeNetworkAndBroadcast { get; set; }

    [Parameter]
    public SwitchParameter Force { get; set; }

    protected override void BeginProcessing()
    {
        var family = RequestedFamily();
        PrepareSource(Source);
        if (SourceError is not null)
        {
            // Every target would fail alike: one terminating error instead of one per address.
            ThrowTerminatingError(SourceError);
        }
        OpenProbers(dontFragment: false);
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
        };
        _sweep = new MultiPing(family => ProberOrThrow(family), options);
        var sweep = _sweep;
        Track("sweep", async () =>
        {
            await foreach (var result in sweep.RunAsync(_targets.Reader.ReadAllAsync(StopToken), StopToken).ConfigureAwait(false))
            {
                if (result.Host is { } host)
                {
                    Post(host);
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
        foreach (var target in TargetName)
        {
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
