using System.Management.Automation;
using System.Management.Automation.Host;
using System.Net;
using IcmpTools.Binding;
using IcmpTools.Engine.Lookups;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Views;

namespace IcmpTools.Commands;

/// <summary>
/// Trace-IcmpRoute: a parallel, flow-stable traceroute. One Hop per distance, streamed in distance order
/// as each becomes final; several targets are traced at once. What the network answered (silence,
/// Destination Unreachable) is data in the Hops; only a bad input or a broken tool is an ErrorRecord.
/// With -Rounds or -Continuous the trace runs in rounds (mtr's report): the final Hop of each distance at the
/// end, or with -PerRound a snapshot per hop per round; on an interactive console, a live table meanwhile.
/// </summary>
[Cmdlet(VerbsDiagnostic.Trace, "IcmpRoute")]
[OutputType(typeof(Hop))]
public sealed class TraceIcmpRouteCommand : IcmpCmdletBase
{
    private TracerouteOptions _options = new();
    private IcmpFamily? _family;
    private AsnResolver? _asnResolver;

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

    /// <summary>With -Multipath: the stopping rule's confidence in percent (scamper's tracelb -c); 95 by default.</summary>
    [Parameter]
    // TracerouteOptions' 0.5 to 0.99999 in percent, written out: 0.99999 * 100 is 99.99900000000001 in a double.
    [ValidateRange(50.0, 99.999)]
    public double MultipathConfidence { get; set; } = MultipathStoppingRule.DefaultConfidence * 100;

    [Parameter]
    [ValidateRange(0, TracerouteOptions.MaxFlowId)]
    public int FlowId { get; set; }

    [Parameter]
    [Alias("ResolveDestination")]
    public SwitchParameter ResolveNames { get; set; }

    /// <summary>Look up each responder's origin AS (Team Cymru's origin.asn.cymru.com TXT records, as mtr -z does).</summary>
    [Parameter]
    public SwitchParameter ResolveAsn { get; set; }

    /// <summary>
    /// The DNS server -ResolveAsn asks ("198.18.4.2" or "[2001:db8:4::2]:5353"), instead of the system's resolvers.
    /// Hidden: the tests point it at a server inside their lab namespace.
    /// </summary>
    [Parameter(DontShow = true)]
    [ValidateNotNullOrEmpty]
    public string? AsnServer { get; set; }

    /// <summary>
    /// The bound on one -ResolveAsn lookup, and so on how long a hop waits for it (default 1 s). Hidden: the lab tests
    /// raise it so that a loaded machine cannot turn a slow answer into a missing AS number.
    /// </summary>
    [Parameter(DontShow = true)]
    [ValidateRange(0.001, 60.0)]
    public double AsnTimeoutSeconds { get; set; } = AsnResolver.DefaultTimeout.TotalSeconds;

    [Parameter]
    [ValidateRange(0, 10_000_000)]
    public int Rate { get; set; }

    /// <summary>Rounds to trace (mtr --report -c); each probes every hop once (-Count times).</summary>
    [Parameter]
    [ValidateRange(1, TracerouteOptions.MaxRounds)]
    public int Rounds { get; set; }

    /// <summary>Trace in rounds until Ctrl+C (or q on the live view).</summary>
    [Parameter]
    public SwitchParameter Continuous { get; set; }

    /// <summary>With -Rounds or -Continuous: a Hop per distance per round (statistics so far), instead of the final Hops only.</summary>
    [Parameter]
    public SwitchParameter PerRound { get; set; }

    /// <summary>The latest snapshot of each (target, distance) in rounds: the report, and what the live view shows.</summary>
    private readonly Dictionary<(string Target, int Distance), Hop> _latest = [];
    private readonly List<string> _targetOrder = [];
    private readonly CancellationTokenSource _finish = new();
    private TraceLiveView? _view;
    private bool _viewChanged;
    private bool _keysTaken;
    private Task? _keys;

    /// <summary>The type name a -Mtu trace's hops carry first, which selects the table with the Mtu column.</summary>
    public const string MtuHopTypeName = "IcmpTools.Engine.Models.Hop#Mtu";

    /// <summary>The type name a -ResolveAsn trace's hops carry first (without -Mtu), which selects the table with the AS column.</summary>
    public const string AsnHopTypeName = "IcmpTools.Engine.Models.Hop#Asn";

    /// <summary>The type name a -Mtu -ResolveAsn trace's hops carry first: both columns, and a whole IPv6 address at 80 columns.</summary>
    public const string MtuAsnHopTypeName = "IcmpTools.Engine.Models.Hop#MtuAsn";

    /// <summary>tracepath's column: each Hop's Mtu is the path MTU up to it (a DontFragment path MTU discovery runs beside the trace).</summary>
    [Parameter]
    public SwitchParameter Mtu { get; set; }

    protected override void BeginProcessing()
    {
        if (MyInvocation.BoundParameters.ContainsKey(nameof(Ttl)))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.TraceTtlNotUsed), ErrorIds.ConflictingParameters,
                ErrorCategory.InvalidArgument, null));
        }
        var bound = MyInvocation.BoundParameters;
        var inRounds = bound.ContainsKey(nameof(Rounds)) || Continuous;
        if (bound.ContainsKey(nameof(Rounds)) && Continuous)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.TraceRoundsAndContinuous), ErrorIds.ConflictingParameters,
                ErrorCategory.InvalidArgument, null));
        }
        if (PerRound && !inRounds)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.TracePerRoundWithoutRounds), ErrorIds.ConflictingParameters,
                ErrorCategory.InvalidArgument, null));
        }
        if (Multipath && inRounds)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.TraceMultipathInRounds), ErrorIds.ConflictingParameters,
                ErrorCategory.InvalidArgument, null));
        }
        if (Mtu && inRounds)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.TraceMtuInRounds), ErrorIds.ConflictingParameters,
                ErrorCategory.InvalidArgument, null));
        }
        if (!Multipath && bound.ContainsKey(nameof(MultipathConfidence)))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(Strings.MultipathConfidenceWithoutMultipath),
                ErrorIds.ConflictingParameters, ErrorCategory.InvalidArgument, MultipathConfidence));
        }
        if (Multipath && (FastMode || bound.ContainsKey(nameof(Count))))
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException(FastMode ? Strings.MultipathFastMode : Strings.MultipathCount),
                ErrorIds.ConflictingParameters, ErrorCategory.InvalidArgument, null));
        }
        _family = RequestedFamily();
        PrepareSource(Source);
        if (ResolveAsn)
        {
            // Made here, on the pipeline thread: its lookup threads, and so its queries, start from this thread's network namespace.
            _asnResolver = new AsnResolver(AsnServerEndPoint(), TimeSpan.FromSeconds(AsnTimeoutSeconds));
            _asnResolver.LookupFailed += (address, reason) => PostVerbose(Format(Strings.VerboseAsnLookupFailed, address, reason));
        }
        _options = new TracerouteOptions
        {
            // In rounds, mtr's defaults: one probe per hop a round, a round a second.
            Count = inRounds && !bound.ContainsKey(nameof(Count)) ? 1 : Count,
            Interval = TimeSpan.FromSeconds(inRounds && !bound.ContainsKey(nameof(IntervalSeconds)) ? 1 : IntervalSeconds),
            Rounds = Rounds,
            Continuous = Continuous,
            Timeout = TimeSpan.FromSeconds(TimeoutSeconds),
            MinHops = MinHops,
            MaxHops = MaxHops,
            MaxSilentHops = MaxSilentHops,
            FastMode = FastMode,
            Multipath = Multipath,
            // Percent to a fraction; rounded so that 99.9 is the engine's 0.999, not 0.9990000000000001.
            MultipathConfidence = Math.Round(MultipathConfidence / 100, 7),
            FlowId = FlowId,
            PayloadSize = BufferSize,
            TrafficClass = TrafficClass,
            Source = SourceAddressValue,
            ResolveNames = ResolveNames,
            AsnResolver = _asnResolver,
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
        OpenProbers(dontFragment: Mtu, family: _family, targets: TargetName);
        WarnIfFlowNotHeld();
        if (inRounds && !PerRound && LiveViewFits())
        {
            _view = new TraceLiveView();
            TakeKeys();
        }
    }

    private IPEndPoint? AsnServerEndPoint()
    {
        if (AsnServer is null)
        {
            return null;
        }
        if (IPAddress.TryParse(AsnServer, out var address))
        {
            return new IPEndPoint(address, 53);
        }
        if (IPEndPoint.TryParse(AsnServer, out var endPoint))
        {
            return endPoint;
        }
        ThrowTerminatingError(new ErrorRecord(new ArgumentException(Format(Strings.TraceInvalidAsnServer, AsnServer)),
            ErrorIds.InvalidParameterValue, ErrorCategory.InvalidArgument, AsnServer));
        return null;
    }

    /// <summary>
    /// The live table goes only where a person reads it: the output ends on this console (last in the
    /// pipeline, not redirected) and the host draws VT sequences. Piped or redirected, only objects.
    /// </summary>
    private bool LiveViewFits()
    {
        try
        {
            return MyInvocation.PipelinePosition == MyInvocation.PipelineLength
                && !Console.IsOutputRedirected
                && Host.UI is { SupportsVirtualTerminal: true, RawUI: not null }
                && Host.UI.RawUI.WindowSize.Width > 0;
        }
        catch (Exception e) when (e is NotImplementedException or PSNotImplementedException or IOException or HostException)
        {
            // A host without a console window (remoting, a custom host) has no screen to redraw.
            return false;
        }
    }

    /// <summary>
    /// Reads Ctrl+C and q as keys while the live view runs, so that stopping ends the rounds and still
    /// writes the report (a stopped pipeline can write nothing more). Only when a person types on this console.
    /// </summary>
    private void TakeKeys()
    {
        if (Console.IsInputRedirected)
        {
            return;
        }
        Console.TreatControlCAsInput = true;
        _keysTaken = true;
        var token = _finish.Token;
        _keys = Task.Run(async () =>
        {
            while (!token.IsCancellationRequested)
            {
                while (Console.KeyAvailable)
                {
                    var key = Console.ReadKey(intercept: true);
                    if (key.KeyChar is 'q' or 'Q' or '\u0003' || (key.Key == ConsoleKey.C && key.Modifiers.HasFlag(ConsoleModifiers.Control)))
                    {
                        await _finish.CancelAsync().ConfigureAwait(false);
                    }
                }
                await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
            }
        });
    }

    private void GiveKeysBack()
    {
        if (_keysTaken)
        {
            _keysTaken = false;
            _finish.Cancel();
            _keys?.Wait(TimeSpan.FromSeconds(1));
            Console.TreatControlCAsInput = false;
        }
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

    protected override void EndProcessing()
    {
        try
        {
            DrainToEnd();
        }
        finally
        {
            GiveKeysBack();
        }
        if (_options.InRounds && !PerRound)
        {
            foreach (var target in _targetOrder)
            {
                foreach (var hop in _latest.Values.Where(h => h.Target == target).OrderBy(h => h.Distance))
                {
                    WriteObject(Shown(hop));
                }
            }
        }
    }

    /// <summary>
    /// A hop as written: with -Mtu or -ResolveAsn (or both) its own type name first, so the default table has
    /// tracepath's column, the AS column or both (IcmpTools.Trace.Format.ps1xml); otherwise the hop itself.
    /// </summary>
    private object Shown(Hop hop)
    {
        if (!Mtu && !ResolveAsn)
        {
            return hop;
        }
        var shown = PSObject.AsPSObject(hop);
        shown.TypeNames.Insert(0, Mtu && ResolveAsn ? MtuAsnHopTypeName : Mtu ? MtuHopTypeName : AsnHopTypeName);
        return shown;
    }

    protected override void WriteOutput(object value)
    {
        if (!_options.InRounds || value is not Hop hop)
        {
            WriteObject(value is Hop single ? Shown(single) : value);
            return;
        }
        if (!_latest.ContainsKey((hop.Target, hop.Distance)) && !_targetOrder.Contains(hop.Target))
        {
            _targetOrder.Add(hop.Target);
        }
        _latest[(hop.Target, hop.Distance)] = hop;
        _viewChanged = true;
        if (PerRound)
        {
            WriteObject(Shown(hop));
        }
    }

    protected override void OnDrained()
    {
        if (_view is null || !_viewChanged)
        {
            return;
        }
        _viewChanged = false;
        var size = Host.UI.RawUI.WindowSize;
        var groups = _latest.Values.GroupBy(h => h.Target).OrderBy(g => _targetOrder.IndexOf(g.Key));
        _view.Draw(Host.UI, TraceLiveView.Render(groups, size.Width, Strings.TraceLiveViewFooter, ResolveAsn), size.Width, size.Height);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            GiveKeysBack();
        }
        base.Dispose(disposing);
        if (disposing)
        {
            // After the base has let the work unwind: the work links its token to this source.
            _finish.Dispose();
            _asnResolver?.Dispose();
        }
    }

    private async Task TraceTargetAsync(string target)
    {
        var address = OneHostTarget.AsSingleAddress(target, _family, MyInvocation.MyCommand.Name)
            ?? await TargetResolver.ResolveAsync(target, _family, StopToken).ConfigureAwait(false);
        if (ProberFor(address, target) is not { } prober)
        {
            return;
        }
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(StopToken, _finish.Token);
        try
        {
            var hops = Mtu ? TracerouteMtu.StreamAsync(prober, address, _options, stop.Token) : Traceroute.StreamAsync(prober, address, _options, stop.Token);
            await foreach (var hop in hops.ConfigureAwait(false))
            {
                await PostAsync(hop).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_finish.IsCancellationRequested && !StopToken.IsCancellationRequested)
        {
            // q or Ctrl+C on the live view: the rounds end here and the report is what they gathered.
        }
    }
}
