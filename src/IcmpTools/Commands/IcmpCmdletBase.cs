using System.Collections.Concurrent;
using System.Globalization;
using System.Management.Automation;
using System.Net;
using System.Threading.Channels;
using IcmpTools.Binding;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Commands;

/// <summary>
/// The plumbing both ping cmdlets share: background work posts objects, errors and progress to a channel
/// that the pipeline thread drains (PowerShell allows writes from that thread only); StopProcessing
/// cancels one token; the shared probers are leased on the pipeline thread, so their sockets open in
/// that thread's network namespace, and released at the end.
/// </summary>
public abstract class IcmpCmdletBase : PSCmdlet, IDisposable
{
    private readonly CancellationTokenSource _stopping = new();
    private readonly Channel<PipelineItem> _items = Channel.CreateUnbounded<PipelineItem>(
        new UnboundedChannelOptions { SingleReader = true });
    /// <summary>Background work still running: each removes itself as it ends, so no list is rescanned per target.</summary>
    private readonly ConcurrentDictionary<Task, byte> _work = new();
    private int _running;
    private TaskCompletionSource? _roomFreed;
    private ProberLease? _v4;
    private ProberLease? _v6;
    private Exception? _v6Failure;
    private bool _disposed;

    private abstract record PipelineItem;
    private sealed record OutputItem(object Value) : PipelineItem;
    private sealed record ErrorItem(ErrorRecord Record, bool Terminating) : PipelineItem;
    private sealed record ProgressItem(ProgressRecord Record) : PipelineItem;
    private sealed record VerboseItem(string Message) : PipelineItem;
    private sealed record DebugItem(string Message) : PipelineItem;

    protected CancellationToken StopToken => _stopping.Token;

    // Parameters both ping cmdlets take, with the same meaning and defaults.

    [Parameter]
    [ValidateRange(0, PingOptions.MaxPayloadSize)]
    public int BufferSize { get; set; } = 56;

    [Parameter]
    [ValidateRange(1, 255)]
    public int Ttl { get; set; } = 64;

    [Parameter]
    [ValidateRange(0, 255)]
    public int TrafficClass { get; set; }

    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(SourceAddressCompleter))]
    public string? Source { get; set; }

    [Parameter]
    public SwitchParameter IPv4 { get; set; }

    [Parameter]
    public SwitchParameter IPv6 { get; set; }

    // -Interface and -Unprivileged (issue 9): which socket carries the probes.

    /// <summary>Send and receive only through this interface (SO_BINDTODEVICE), like ping -I.</summary>
    [Parameter]
    [ValidateNotNullOrEmpty]
    [ArgumentCompleter(typeof(Binding.InterfaceNameCompleter))]
    public string? Interface { get; set; }

    /// <summary>Use a datagram ("ping") socket even when a raw one could be opened.</summary>
    [Parameter]
    public SwitchParameter Unprivileged { get; set; }

    /// <summary>The family -IPv4 / -IPv6 ask for; stops the pipeline when both are given.</summary>
    protected IcmpFamily? RequestedFamily()
    {
        if (IPv4 && IPv6)
        {
            ThrowTerminatingError(new ErrorRecord(new ArgumentException("-IPv4 and -IPv6 cannot be used together."),
                ErrorIds.ConflictingParameters, ErrorCategory.InvalidArgument, null));
        }
        return IPv4 ? IcmpFamily.IPv4 : IPv6 ? IcmpFamily.IPv6 : null;
    }

    /// <summary>A validated source address, or null; set by <see cref="PrepareSource"/>.</summary>
    protected IPAddress? SourceAddressValue { get; private set; }

    /// <summary>The leased prober for a family, or null when that family's socket could not be opened.</summary>
    protected Prober? ProberFor(IcmpFamily family) => (family == IcmpFamily.IPv4 ? _v4 : _v6)?.Prober;

    /// <summary>
    /// Opens (or shares) the probers the targets need: raw sockets when permitted, else datagram ones (-Unprivileged:
    /// datagram only). No permission: a terminating error that says how to fix it. A family no target can need is
    /// not opened (each family's sockets cost milliseconds to open and close, more than a path MTU search takes).
    /// </summary>
    /// <param name="family">-IPv4 / -IPv6, if given: only that family.</param>
    /// <param name="targets">The cmdlet's typed targets: literal addresses say their family; a name, or input still to
    /// come down the pipeline, may be either, so both open.</param>
    /// <param name="framePath">False for a few probes per call (a path MTU search): see <see cref="ProberKey.FramePath"/>.</param>
    /// <param name="keepIdle">How long the probers stay open after this command for the next one (see <see cref="ProberPool.Acquire(ProberKey, TimeSpan)"/>).</param>
    protected void OpenProbers(bool dontFragment, bool broadcast = false, IcmpFamily? family = null, string[]? targets = null,
        bool framePath = true, TimeSpan keepIdle = default)
    {
        var (v4, v6) = FamiliesNeeded(family, MyInvocation.ExpectingInput ? null : targets);
        if (v4)
        {
            _v4 = Acquire(IcmpFamily.IPv4);
        }
        if (v6)
        {
            try
            {
                _v6 = Acquire(IcmpFamily.IPv6);
            }
            catch (IcmpException e)
            {
                // A machine without IPv6 can still ping IPv4: fail only the IPv6 targets.
                _v6Failure = e;
            }
        }
        var sockets = new List<string>(2);
        if (_v4 is not null)
        {
            sockets.Add(Describe(_v4));
        }
        if (_v6 is not null)
        {
            sockets.Add(Describe(_v6));
        }
        else if (_v6Failure is not null)
        {
            sockets.Add(Format(Strings.VerboseSocketMissing, IcmpFamily.IPv6, _v6Failure.Message));
        }
        WriteVerbose(Format(Strings.VerboseSockets, string.Join(", ", sockets)));

        // A failure stops the command when nothing could work: IPv4's, or IPv6's when it is the only family needed.
        ProberLease? Acquire(IcmpFamily which)
        {
            var alone = which == IcmpFamily.IPv4 || _v4 is null;
            try
            {
                return ProberPool.AcquireAuto(new ProberKey(which, DontFragment: dontFragment, Interface: Interface, Broadcast: broadcast,
                    FramePath: framePath), Unprivileged, keepIdle);
            }
            catch (SocketPermissionException e) when (alone)
            {
                ThrowTerminatingError(new ErrorRecord(new SocketPermissionException(Format(Strings.PermissionDenied, e.Message), e),
                    ErrorIds.SocketPermissionDenied, ErrorCategory.PermissionDenied, null));
            }
            catch (IcmpPlatformNotSupportedException e) when (alone)
            {
                ThrowTerminatingError(new ErrorRecord(e, ErrorIds.PlatformNotSupported, ErrorCategory.NotImplemented, null));
            }
            catch (SocketUnavailableException e) when (which == IcmpFamily.IPv4)
            {
                ThrowTerminatingError(new ErrorRecord(e, ErrorIds.SocketUnavailable, ErrorCategory.ResourceUnavailable, Interface));
            }
            return null;
        }
    }

    /// <summary>
    /// Which families' probers the targets need. Null targets (input still to come, or a cmdlet that does not say):
    /// both. With none that can be read (every typed target empty), IPv4 alone, so that a missing permission still
    /// stops the command as it always has.
    /// </summary>
    internal static (bool IPv4, bool IPv6) FamiliesNeeded(IcmpFamily? family, IEnumerable<string>? targets)
    {
        if (family is { } only)
        {
            return (only == IcmpFamily.IPv4, only == IcmpFamily.IPv6);
        }
        if (targets is null)
        {
            return (true, true);
        }
        var (v4, v6) = (false, false);
        foreach (var line in targets)
        {
            if (!TargetText.TryGetTarget(line, out var target))
            {
                continue;
            }
            if (!TargetResolver.TryParseLiteral(target, out var address))
            {
                return (true, true);
            }
            if (TargetResolver.FamilyOf(address) == IcmpFamily.IPv4)
            {
                v4 = true;
            }
            else
            {
                v6 = true;
            }
        }
        return (v4 || !v6, v6);
    }

    /// <summary>
    /// Checks -Source once, on the pipeline thread (the kernel answers for this thread's namespace). A source
    /// that is not an address, or not one of this machine's, would fail every target alike, so both cmdlets
    /// stop with one terminating error naming it (as they do for a socket they cannot open); only a source
    /// whose family differs from a target's is that target's error, since the other targets still work.
    /// </summary>
    protected void PrepareSource(string? source)
    {
        if (string.IsNullOrEmpty(source))
        {
            return;
        }
        if (!TargetResolver.TryParseLiteral(source, out var address))
        {
            ThrowTerminatingError(new ErrorRecord(new SocketAddressException(Format(Strings.InvalidSource, source)),
                ErrorIds.InvalidSourceAddress, ErrorCategory.InvalidArgument, source));
        }
        try
        {
            SourceAddress.Validate(address, TargetResolver.FamilyOf(address));
            SourceAddressValue = address;
        }
        catch (SocketAddressException e)
        {
            ThrowTerminatingError(new ErrorRecord(e, ErrorIds.InvalidSourceAddress, ErrorCategory.InvalidArgument, source));
        }
    }

    private static string Describe(ProberLease? lease) => lease is null
        ? string.Empty
        : $"{lease.Prober.Family} ({TransportName(lease.Prober.Kind)})";

    /// <summary>The transport a socket kind stands for, as the help names it: on Windows, raw Winsock or iphlpapi.</summary>
    private static string TransportName(SocketKind kind) => OperatingSystem.IsWindows()
        ? (kind == SocketKind.Raw ? Strings.TransportWindowsRaw : Strings.TransportWindowsIpHelper)
        : kind.ToString().ToLowerInvariant();

    /// <summary>How -Source reads in verbose messages.</summary>
    protected string SourceDescription => SourceAddressValue?.ToString() ?? Strings.SourceDefault;

    /// <summary>The prober for the address's family, or null after posting why there is none.</summary>
    protected Prober? ProberFor(IPAddress address, string target)
    {
        var family = TargetResolver.FamilyOf(address);
        if (SourceAddressValue is { } source && TargetResolver.FamilyOf(source) != family)
        {
            PostError(new ErrorRecord(new SocketAddressException(source, $"it is {TargetResolver.FamilyOf(source)} and the target '{target}' is {family}."),
                ErrorIds.InvalidSourceAddress, ErrorCategory.InvalidArgument, target));
            return null;
        }
        var lease = family == IcmpFamily.IPv4 ? _v4 : _v6;
        if (lease is null)
        {
            var reason = _v6Failure?.Message ?? "the socket is not open.";
            PostError(new ErrorRecord(new SocketUnavailableException(Format(Strings.SocketUnavailable, family, target, reason), _v6Failure!),
                ErrorIds.SocketUnavailable, ErrorCategory.ResourceUnavailable, target));
            return null;
        }
        return lease.Prober;
    }

    /// <summary>
    /// Output objects the pipeline thread has not written yet, at most: background work waits for room, so a
    /// slow consumer (a pipeline that stops to think, a slow Export-Csv) slows the sweep instead of piling up
    /// results in proportion to the targets.
    /// </summary>
    private const int OutputWindow = 1024;
    private readonly SemaphoreSlim _outputRoom = new(OutputWindow, OutputWindow);

    /// <summary>Hands an output object to the pipeline thread, waiting while <see cref="OutputWindow"/> are unwritten.</summary>
    protected async Task PostAsync(object value)
    {
        await _outputRoom.WaitAsync(_stopping.Token).ConfigureAwait(false);
        _items.Writer.TryWrite(new OutputItem(value));
    }

    protected void PostError(ErrorRecord record) => _items.Writer.TryWrite(new ErrorItem(record, false));

    protected void PostProgress(ProgressRecord record) => _items.Writer.TryWrite(new ProgressItem(record));

    /// <summary>Verbose text from background work (written on the pipeline thread, like everything else).</summary>
    protected void PostVerbose(string message) => _items.Writer.TryWrite(new VerboseItem(message));

    protected void PostDebug(string message) => _items.Writer.TryWrite(new DebugItem(message));

    /// <summary>
    /// Whether -Debug (or $DebugPreference) asks for debug text, so per-target messages are only built when
    /// someone reads them.
    /// </summary>
    protected bool DebugWanted => MyInvocation.BoundParameters.TryGetValue("Debug", out var debug)
        ? ((SwitchParameter)debug).IsPresent
        : SessionState.PSVariable.GetValue("DebugPreference") is ActionPreference p && p != ActionPreference.SilentlyContinue;

    /// <summary>
    /// The targets on the input. From the pipeline, blank lines and # comments are skipped as fping skips them
    /// in a hosts file (what <c>Get-Content hosts.txt</c> pipes in), each said in the debug stream; typed on
    /// the command line, an empty target is a mistake (an unset variable) and gets its error.
    /// </summary>
    protected IEnumerable<string> TargetsOf(string[] input)
    {
        ArgumentNullException.ThrowIfNull(input);
        var typed = MyInvocation.ExpectingInput is false;
        foreach (var line in input)
        {
            if (TargetText.TryGetTarget(line, out var target))
            {
                yield return target;
            }
            else if (typed)
            {
                WriteError(new ErrorRecord(new ArgumentException(Format(Strings.EmptyTarget, line)),
                    ErrorIds.InvalidTarget, ErrorCategory.InvalidArgument, line));
            }
            else
            {
                WriteDebug(Format(Strings.DebugSkipped, line));
            }
        }
    }

    /// <summary>Writes one output object on the pipeline thread; a cmdlet that orders its output hooks in here.</summary>
    protected virtual void WriteOutput(object value) => WriteObject(value);

    /// <summary>Posts the ErrorRecord a target's failure deserves; returns false for failures that are not the target's.</summary>
    protected bool PostTargetError(Exception e, string target)
    {
        var (id, category) = e switch
        {
            NameResolutionException => (ErrorIds.NameResolutionFailed, ErrorCategory.ObjectNotFound),
            TargetIsBlockException => (ErrorIds.TargetIsBlock, ErrorCategory.InvalidArgument),
            AddressFamilyMismatchException => (ErrorIds.FamilyMismatch, ErrorCategory.InvalidArgument),
            SocketAddressException => (ErrorIds.InvalidSourceAddress, ErrorCategory.InvalidArgument),
            SocketUnavailableException => (ErrorIds.SocketUnavailable, ErrorCategory.ResourceUnavailable),
            SocketBroadcastException => (ErrorIds.BroadcastNotAllowed, ErrorCategory.PermissionDenied),
            InvalidTargetException { Reason: InvalidTargetReason.ReversedRange } => (ErrorIds.InvalidRange, ErrorCategory.InvalidArgument),
            InvalidTargetException { Reason: InvalidTargetReason.TooLarge } => (ErrorIds.BlockTooLarge, ErrorCategory.LimitsExceeded),
            InvalidTargetException => (ErrorIds.InvalidTarget, ErrorCategory.InvalidArgument),
            TransportCapabilityException => (ErrorIds.TransportCapabilityMissing, ErrorCategory.InvalidOperation),
            _ => (null, ErrorCategory.NotSpecified),
        };
        if (id is null)
        {
            return false;
        }
        PostError(new ErrorRecord(e, id, category, target));
        return true;
    }

    /// <summary>
    /// Targets whose work may run at once; null for no bound. Past it the pipeline thread waits (writing output
    /// meanwhile), so piped input is read only as room frees.
    /// </summary>
    protected virtual int? TargetsInFlightLimit => null;

    /// <summary>Runs background work for one target; a bug surfaces as a terminating error, never silently.</summary>
    protected void Track(string target, Func<Task> work)
    {
        if (!WaitForTargetRoom())
        {
            return;
        }
        Interlocked.Increment(ref _running);
        var task = Task.Run(async () =>
        {
            try
            {
                await work().ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
            {
                // Ctrl+C: PowerShell reports the stop itself.
            }
            catch (Exception e) when (PostTargetError(e, target))
            {
            }
            catch (Exception e)
            {
                _items.Writer.TryWrite(new ErrorItem(new ErrorRecord(
                    new InvalidOperationException(Format(Strings.UnexpectedFailure, target, e.Message), e),
                    ErrorIds.UnexpectedFailure, ErrorCategory.NotSpecified, target), true));
            }
            finally
            {
                Interlocked.Decrement(ref _running);
                Interlocked.Exchange(ref _roomFreed, null)?.TrySetResult();
            }
        });
        _work.TryAdd(task, 0);
        _ = task.ContinueWith(static (t, work) => ((ConcurrentDictionary<Task, byte>)work!).TryRemove(t, out _), _work,
            CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Waits on the pipeline thread, writing output, until a target may start; false when stopped.</summary>
    private bool WaitForTargetRoom()
    {
        if (TargetsInFlightLimit is not { } limit)
        {
            return true;
        }
        while (Volatile.Read(ref _running) >= limit)
        {
            // Publish the waiter, then look again: a target that ended before it was published was counted out.
            var freed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Interlocked.Exchange(ref _roomFreed, freed);
            if (Volatile.Read(ref _running) < limit)
            {
                break;
            }
            DrainUntil(freed.Task);
            if (_stopping.IsCancellationRequested)
            {
                return false;
            }
        }
        return true;
    }

    /// <summary>Writes whatever the background work has posted so far, without waiting.</summary>
    protected void DrainAvailable()
    {
        while (_items.Reader.TryRead(out var item))
        {
            Write(item);
        }
        OnDrained();
    }

    /// <summary>Writes everything until all background work has finished (or the pipeline is stopped).</summary>
    protected void DrainToEnd()
    {
        _ = Task.WhenAll(_work.Keys).ContinueWith(_ => _items.Writer.TryComplete(), TaskScheduler.Default);
        try
        {
            while (_items.Reader.WaitToReadAsync(_stopping.Token).AsTask().GetAwaiter().GetResult())
            {
                DrainAvailable();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped: PowerShell raises PipelineStoppedException on its own.
            ReportStop();
        }
    }

    /// <summary>Blocks the pipeline thread until <paramref name="task"/> completes, writing what arrives meanwhile.</summary>
    protected void DrainUntil(Task task)
    {
        ArgumentNullException.ThrowIfNull(task);
        try
        {
            while (!task.IsCompleted)
            {
                Task.WaitAny([task, _items.Reader.WaitToReadAsync(_stopping.Token).AsTask()], _stopping.Token);
                DrainAvailable();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped: PowerShell raises PipelineStoppedException on its own.
            ReportStop();
        }
    }

    /// <summary>
    /// Called on the pipeline thread once the pipeline is stopped (Ctrl+C). Nothing can be written down the
    /// pipeline any more; the host's console still takes text.
    /// </summary>
    protected virtual void OnStopped()
    {
    }

    private bool _stopRequested;
    private bool _stopReported;

    private void ReportStop()
    {
        if (!_stopReported)
        {
            _stopReported = true;
            OnStopped();
        }
    }

    /// <summary>Waits (at most <paramref name="limit"/>) for the cancelled background work to unwind.</summary>
    protected void WaitForWork(TimeSpan limit) => Task.WaitAll(_work.Keys.Where(t => !t.IsCompleted).ToArray(), limit);

    /// <summary>Called on the pipeline thread after each batch of writes (progress reporting hooks in here).</summary>
    protected virtual void OnDrained()
    {
    }

    private void Write(PipelineItem item)
    {
        switch (item)
        {
            case OutputItem o:
                _outputRoom.Release();
                WriteOutput(o.Value);
                break;
            case ErrorItem { Terminating: true } e:
                ThrowTerminatingError(e.Record);
                break;
            case ErrorItem e:
                WriteError(e.Record);
                break;
            case ProgressItem p:
                WriteProgress(p.Record);
                break;
            case VerboseItem v:
                WriteVerbose(v.Message);
                break;
            case DebugItem d:
                WriteDebug(d.Message);
                break;
        }
    }

    protected override void StopProcessing()
    {
        _stopRequested = true;
        _stopping.Cancel();
    }

    protected static string Format(string format, params object?[] args) => string.Format(CultureInfo.CurrentCulture, format, args);

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (_disposed || !disposing)
        {
            return;
        }
        _disposed = true;
        // Stopped before a drain was under way (still in BeginProcessing or ProcessRecord): report it now.
        if (_stopRequested)
        {
            ReportStop();
        }
        _stopping.Cancel();
        // Let cancelled work unwind before the sockets close under it; it only has to notice the token.
        Task.WaitAll(_work.Keys.Where(t => !t.IsCompleted).ToArray(), TimeSpan.FromMilliseconds(200));
        _v4?.Dispose();
        _v6?.Dispose();
        _stopping.Dispose();
        _outputRoom.Dispose();
    }
}
