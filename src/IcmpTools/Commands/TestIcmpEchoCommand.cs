using System.Management.Automation;
using System.Net;
using IcmpTools.Binding;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;

namespace IcmpTools.Commands;

/// <summary>
/// Test-IcmpEcho: ping. One Host per target by default, each Reply as it arrives with -PerReply or
/// -Continuous, one bool per target, in input order, with -Quiet. Targets are pinged concurrently.
/// </summary>
[Cmdlet(VerbsDiagnostic.Test, "IcmpEcho", DefaultParameterSetName = DefaultSet)]
[OutputType(typeof(Host), ParameterSetName = [DefaultSet])]
[OutputType(typeof(Reply), ParameterSetName = [DefaultSet, ContinuousSet])]
[OutputType(typeof(bool), ParameterSetName = [QuietSet])]
[OutputType(typeof(PathMtuResult), ParameterSetName = [MtuSizeSet])]
public sealed class TestIcmpEchoCommand : IcmpCmdletBase
{
    private const string DefaultSet = "Default";
    private const string QuietSet = "Quiet";
    private const string ContinuousSet = "Continuous";
    private const string MtuSizeSet = "MtuSize";

    /// <summary>
    /// Targets pinged at once (a task and a scheduler each); further piped targets are read as these finish, as
    /// the sweep reads its targets. -Continuous pings never finish, so they are not bounded.
    /// </summary>
    internal const int MaxTargetsInFlight = 1024;

    /// <summary>
    /// How long -MtuSize's probers stay open after a call, for the next: a search's few probes take well under a
    /// millisecond on a near path, and opening and closing its sockets and receive thread took longer than that
    /// (bench/results/h21-mtufirst.md). Long enough to span the calls of a script or of a bench run beside other
    /// tools; Remove-Module closes them at once (ModuleCleanup).
    /// </summary>
    internal static readonly TimeSpan MtuProberKeep = TimeSpan.FromSeconds(2);

    private PingOptions _options = new();
    private IcmpFamily? _family;
    private QuietAnswers? _quiet;
    private bool _debug;
    /// <summary>Each stopped target's statistics, printed once the pipeline is stopped (Ctrl+C), as ping prints its own.</summary>
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _stoppedSummaries = new();

    /// <summary>-Quiet's answer for the target at <paramref name="Index"/> (in input order).</summary>
    private sealed record QuietAnswer(long Index, bool Alive);

    [Parameter(Mandatory = true, Position = 0, ValueFromPipeline = true, ValueFromPipelineByPropertyName = true)]
    [Alias("ComputerName", "Address", "IPAddress", "Name")]
    [AllowEmptyString]
    [TargetNameTransformation]
    public string[] TargetName { get; set; } = [];

    [Parameter(ParameterSetName = DefaultSet)]
    [Parameter(ParameterSetName = QuietSet)]
    [ValidateRange(1, int.MaxValue)]
    public int Count { get; set; } = 4;

    [Parameter(Mandatory = true, ParameterSetName = ContinuousSet)]
    [Alias("Repeat")]
    public SwitchParameter Continuous { get; set; }

    /// <summary>Seconds between probes to a target; over an unprivileged socket at least <see cref="UnprivilegedMinimumInterval"/>.</summary>
    [Parameter]
    [Alias("Delay")]
    [ValidateRange(0.0, 3600.0)]
    public double IntervalSeconds { get; set; } = 1;

    /// <summary>
    /// The shortest interval a user without CAP_NET_RAW may ask for: iputils ping's floor for non-root (2 ms), so
    /// an unprivileged user cannot flood a host (-IntervalSeconds 0 sent a million probes in 5.6 s).
    /// </summary>
    public const double UnprivilegedMinimumInterval = 0.002;

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

    [Parameter(Mandatory = true, ParameterSetName = QuietSet)]
    public SwitchParameter Quiet { get; set; }

    /// <summary>The target is a broadcast address: one Reply per host that answers each probe before its timeout.</summary>
    [Parameter(ParameterSetName = DefaultSet)]
    [Parameter(ParameterSetName = ContinuousSet)]
    public SwitchParameter Broadcast { get; set; }

    /// <summary>
    /// Test-Connection's -MtuSize: one PathMtuResult per target, the largest packet and payload that reach it
    /// unfragmented, found from the MTU routers name or, on a silent path, by a DontFragment search.
    /// </summary>
    [Parameter(Mandatory = true, ParameterSetName = MtuSizeSet)]
    [Alias("MtuSizeDetect")]
    public SwitchParameter MtuSize { get; set; }

    protected override void BeginProcessing()
    {
        if (Payload is not null && MyInvocation.BoundParameters.ContainsKey(nameof(BufferSize)))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.ConflictingPayload), ErrorIds.ConflictingParameters,
                ErrorCategory.InvalidArgument, null));
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
        _quiet = Quiet ? new QuietAnswers() : null;
        _debug = DebugWanted;
        // The MTU search is DontFragment by nature: without it every size would "arrive", in fragments. Its few
        // probes go through the raw socket: the frame path's set-up would cost more than the whole search.
        OpenProbers(DontFragment || MtuSize, Broadcast, _family, TargetName, framePath: !MtuSize, keepIdle: MtuSize ? MtuProberKeep : default);
        // One probe has no interval to flood with.
        if (IntervalSeconds < UnprivilegedMinimumInterval && (Continuous || Count > 1)
            && (ProberFor(IcmpFamily.IPv4)?.Kind == Engine.Sockets.SocketKind.Datagram || ProberFor(IcmpFamily.IPv6)?.Kind == Engine.Sockets.SocketKind.Datagram))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentOutOfRangeException(nameof(IntervalSeconds), IntervalSeconds,
                Format(Strings.UnprivilegedInterval, IntervalSeconds, UnprivilegedMinimumInterval)),
                ErrorIds.InvalidParameterValue, ErrorCategory.InvalidArgument, IntervalSeconds));
        }
    }

    protected override int? TargetsInFlightLimit => Continuous ? null : MaxTargetsInFlight;

    protected override void ProcessRecord()
    {
        foreach (var target in TargetsOf(TargetName))
        {
            var index = _quiet?.Next() ?? 0;
            Track(target, () => PingTargetAsync(target, index));
        }
        DrainAvailable();
    }

    protected override void EndProcessing() => DrainToEnd();

    protected override void OnStopped()
    {
        // The pings unwind within moments of the stop; a stuck one is not worth holding Ctrl+C up for.
        WaitForWork(TimeSpan.FromSeconds(1));
        while (_stoppedSummaries.TryDequeue(out var line))
        {
            Host.UI.WriteLine(line);
        }
    }

    private static string Summary(string shown, int sent, int received, (double Min, double Avg, double Max)? rtt) =>
        Format(Strings.StoppedSummary, shown, sent, received, sent == 0 ? 0 : 100.0 * (sent - received) / sent,
            rtt is { } r ? Format(Strings.StoppedSummaryRtt, r.Min, r.Avg, r.Max) : string.Empty);

    protected override void WriteOutput(object value)
    {
        if (value is QuietAnswer answer && _quiet is not null)
        {
            foreach (var alive in _quiet.Complete(answer.Index, answer.Alive))
            {
                WriteObject(alive);
            }
            return;
        }
        WriteObject(value);
    }

    private async Task PingTargetAsync(string target, long index)
    {
        try
        {
            var alive = await PingAsync(target).ConfigureAwait(false);
            if (_quiet is not null)
            {
                await PostAsync(new QuietAnswer(index, alive)).ConfigureAwait(false);
            }
        }
        catch (Exception) when (_quiet is not null && !StopToken.IsCancellationRequested)
        {
            // As Test-Connection does: a target that could not be pinged still gets its False, and its error.
            await PostAsync(new QuietAnswer(index, false)).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Pings one target and writes what it found; returns whether it answered.</summary>
    private async Task<bool> PingAsync(string target)
    {
        var name = (string?)null;
        if (OneHostTarget.AsSingleAddress(target, _family, MyInvocation.MyCommand.Name) is not { } address)
        {
            name = TargetResolver.TryParseLiteral(target, out _) ? null : target;
            address = await TargetResolver.ResolveAsync(target, _family, StopToken).ConfigureAwait(false);
            if (_debug && name is not null)
            {
                PostDebug(Format(Strings.DebugResolved, target, address));
            }
        }
        if (ProberFor(address, target) is not { } prober)
        {
            return false;
        }
        var shown = name is null ? address.ToString() : $"{name} ({address})";
        if (MtuSize)
        {
            var options = new PathMtuOptions { Timeout = _options.Timeout, Ttl = Ttl, TrafficClass = TrafficClass, Source = SourceAddressValue };
            var found = await PathMtu.DiscoverAsync(prober, address, options, StopToken).ConfigureAwait(false);
            await PostAsync(found).ConfigureAwait(false);
            return found.Status == IcmpStatus.Success;
        }
        PostVerbose(Format(Strings.VerbosePingStart, shown, SourceDescription,
            Continuous ? Strings.ProbesContinuous : Format(Strings.ProbesCount, Count),
            Payload?.Length ?? BufferSize, IntervalSeconds, TimeoutSeconds, Ttl, DontFragment ? Strings.DontFragmentNote : ""));
        if (PerReply || Continuous || Broadcast)
        {
            var (sent, received, min, max, sum) = (0, 0, double.MaxValue, 0.0, 0.0);
            try
            {
                await foreach (var reply in Ping.StreamAsync(prober, address, _options, StopToken).ConfigureAwait(false))
                {
                    sent++;
                    if (reply is { Status: IcmpStatus.Success, Rtt: { } rtt })
                    {
                        (received, min, max, sum) = (received + 1, Math.Min(min, rtt), Math.Max(max, rtt), sum + rtt);
                    }
                    await PostAsync(reply).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (StopToken.IsCancellationRequested && !Broadcast)
            {
                _stoppedSummaries.Enqueue(Summary(shown, sent, received, received == 0 ? null : (min, sum / received, max)));
                throw;
            }
            return received > 0;
        }
        Host host;
        try
        {
            host = await Ping.PingAsync(prober, address, name, _options, StopToken).ConfigureAwait(false);
        }
        catch (PingStoppedException e) when (e.Partial is { } partial && _quiet is null)
        {
            _stoppedSummaries.Enqueue(Summary(shown, partial.PacketsSent, partial.PacketsReceived,
                partial.AvgRtt is { } avg ? (partial.MinRtt!.Value, avg, partial.MaxRtt!.Value) : null));
            throw;
        }
        PostVerbose(Format(Strings.VerbosePingDone, shown, host.PacketsSent, host.PacketsReceived, host.PacketLoss * 100, host.Duplicates));
        if (_quiet is null)
        {
            await PostAsync(host).ConfigureAwait(false);
        }
        return host.IsAlive;
    }

    /// <summary>
    /// Holds -Quiet's booleans until every earlier target has its own, so they come out in input order
    /// however the pings finish. Touched on the pipeline thread only.
    /// </summary>
    private sealed class QuietAnswers
    {
        private readonly Dictionary<long, bool> _early = [];
        private long _issued;
        private long _written;

        public long Next() => _issued++;

        public List<bool> Complete(long index, bool alive)
        {
            _early[index] = alive;
            var ready = new List<bool>();
            while (_early.Remove(_written, out var next))
            {
                ready.Add(next);
                _written++;
            }
            return ready;
        }
    }
}
