using System.Diagnostics;
using System.Net;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// icmplib's low-level socket: send requests you build yourself and receive their replies. It rides on the
/// process's shared prober for its family (one socket, one receive loop), so its answers are matched by the
/// probe cookie like everyone else's: its replies never reach another operation and theirs never reach it.
/// No call blocks longer than the timeout it was given.
/// </summary>
/// <remarks>
/// Answers wait here until received, each handed out once: <see cref="Receive(Request, double)"/> takes the
/// one for that request, <see cref="Receive(double)"/> the oldest. An answer arriving more than
/// <see cref="AnswerWindow"/> after its request was sent is dropped as late. With <see cref="Broadcast"/>
/// every host that answers a request is one Reply, each received in turn until the window closes.
/// </remarks>
public sealed class IcmpSocket : IDisposable
{
    /// <summary>How long after its send an answer is still taken (the probe's deadline in the prober).</summary>
    public static readonly TimeSpan AnswerWindow = TimeSpan.FromSeconds(60);

    /// <summary>Waits longer than this also end on Ctrl+C: PowerShell cannot stop a .NET method it is inside of.</summary>
    private static readonly TimeSpan InterruptibleAfter = TimeSpan.FromSeconds(1);

    private const int EACCES = 13;
    private readonly object _gate = new();
    private readonly Dictionary<long, Request> _sent = new();
    /// <summary>The sends of each request not yet received, oldest first: a request sent twice is answered twice.</summary>
    private readonly Dictionary<(string Destination, int Identifier, int Sequence), List<long>> _tokens = new();
    private readonly LinkedList<(long Token, ProbeResult Result)> _arrived = new();
    /// <summary>Requests still waiting in the prober, to cancel on Close.</summary>
    private readonly Dictionary<long, ProbeHandle> _handles = new();
    private readonly Observer _observer;
    private ProberLease? _lease;
    private readonly IPAddress? _source;
    private long _nextToken;

    internal IcmpSocket(ProberLease lease, IcmpFamily family, IPAddress? source, string? interfaceName, bool broadcast)
    {
        _lease = lease;
        _source = source;
        Family = family;
        Source = source?.ToString();
        Interface = interfaceName;
        Broadcast = broadcast;
        IsPrivileged = lease.Prober.Kind == SocketKind.Raw;
        _observer = new Observer(this);
    }

    /// <summary>
    /// Opens (or shares) the process's socket for the family in the calling thread's network namespace: raw
    /// when permitted, else datagram; <paramref name="unprivileged"/> asks for the datagram socket only.
    /// </summary>
    /// <exception cref="SocketAddressException"><paramref name="source"/> is not an address of this machine, or of the other family.</exception>
    /// <exception cref="SocketPermissionException">Neither kind of socket may be opened; the message says how to allow one.</exception>
    public static IcmpSocket Open(IcmpFamily family, IPAddress? source = null, string? interfaceName = null,
        bool unprivileged = false, bool broadcast = false)
    {
        if (source is not null)
        {
            SourceAddress.Validate(source, family);
        }
        var lease = ProberPool.AcquireAuto(new ProberKey(family, Interface: interfaceName, Broadcast: broadcast), unprivileged);
        return new IcmpSocket(lease, family, source, interfaceName, broadcast);
    }

    public IcmpFamily Family { get; }
    /// <summary>The source address requests leave from; null lets the kernel choose.</summary>
    public string? Source { get; }
    /// <summary>The interface the socket is bound to (SO_BINDTODEVICE); null for none.</summary>
    public string? Interface { get; }
    /// <summary>True for a raw socket; false for a datagram ("ping") socket, whose kernel writes its own identifier.</summary>
    public bool IsPrivileged { get; }
    /// <summary>Whether broadcast destinations may be sent to (SO_BROADCAST).</summary>
    public bool Broadcast { get; }
    public bool IsClosed => Volatile.Read(ref _lease) is null;

    /// <summary>Requests this socket keeps bookkeeping for (sent and not yet received or expired).</summary>
    internal int Booked
    {
        get
        {
            lock (_gate)
            {
                return _sent.Count;
            }
        }
    }

    /// <summary>Sends the request. Its answer (reply, ICMP error) waits here until received.</summary>
    /// <exception cref="SocketUnavailableException">The socket is closed.</exception>
    /// <exception cref="SocketBroadcastException">The destination is a broadcast address and the socket was opened without Broadcast.</exception>
    public void Send(Request request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var prober = Prober();
        if (request.Family != Family)
        {
            throw new AddressFamilyMismatchException($"The request to '{request.Destination}' is {request.Family}; this socket sends {Family}.");
        }
        if (!IPAddress.TryParse(request.Destination, out var destination))
        {
            throw new ArgumentException($"The request's destination '{request.Destination}' is not an IP address.", nameof(request));
        }
        var spec = new ProbeSpec
        {
            Destination = IpKey.FromAddress(destination),
            Identifier = (ushort)request.Identifier,
            Sequence = (ushort)request.Sequence,
            PayloadSize = request.PayloadSize,
            ExplicitPayload = request.Payload?.ToArray(),
            Ttl = request.Ttl,
            TrafficClass = request.TrafficClass,
            Source = _source is null ? default : IpKey.FromAddress(_source),
            HasSource = _source is not null,
            TimeoutTicks = (long)(AnswerWindow.TotalSeconds * prober.Clock.TimestampFrequency),
            // A broadcast request is answered by every host on the segment: collect them all, from any address.
            Mode = Broadcast ? ProbeMode.Collect : ProbeMode.FirstAnswer,
            AnyResponder = Broadcast,
            // A handful of requests: afford the index that matches errors quoting only 8 bytes (RFC 792 routers).
            MatchWithoutCookie = true,
        };
        lock (_gate)
        {
            spec.Token = ++_nextToken;
            _sent[spec.Token] = request;
            // A request sent again (same destination, identifier, sequence): each send's answer is received in turn.
            if (!_tokens.TryGetValue(Key(request), out var sends))
            {
                _tokens[Key(request)] = sends = [];
            }
            sends.Add(spec.Token);
        }
        try
        {
            prober.Send(new ReadOnlySpan<ProbeSpec>(in spec), _observer);
        }
        catch
        {
            // Never sent: nothing will answer it, so it must not stay booked (an earlier send of it stays receivable).
            lock (_gate)
            {
                Forget(spec.Token);
            }
            throw;
        }
        // A refused send completes at once, on this thread: raise the broadcast refusal as the error it is
        // (EACCES also comes from a prohibit route: that one is received as SendFailed like any refused send).
        if (Broadcast || !prober.Broadcasts.Contains(destination))
        {
            return;
        }
        lock (_gate)
        {
            for (var node = _arrived.Last; node is not null; node = node.Previous)
            {
                if (node.Value.Token == spec.Token && node.Value.Result is { Status: IcmpStatus.SendFailed, SendError: EACCES })
                {
                    _arrived.Remove(node);
                    Forget(spec.Token);
                    throw new SocketBroadcastException(
                        $"'{request.Destination}' is a broadcast address; open the socket with -Broadcast to send to it.");
                }
            }
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutSeconds"/> for the answer to <paramref name="request"/> (for a request
    /// sent more than once, the oldest answer not yet received). A wait over a second also ends on Ctrl+C.
    /// </summary>
    /// <exception cref="TimeoutExceededException">Nothing answered in time.</exception>
    /// <exception cref="ArgumentException">The request was not sent on this socket (or its answer was already received).</exception>
    /// <exception cref="OperationCanceledException">Ctrl+C was pressed during the wait.</exception>
    public Reply Receive(Request request, double timeoutSeconds = 2)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Take(Seconds(timeoutSeconds), request, CancellationToken.None);
    }

    /// <summary>Waits up to <paramref name="timeoutSeconds"/> for the next answer to any request sent on this socket.</summary>
    /// <exception cref="TimeoutExceededException">Nothing answered in time.</exception>
    /// <exception cref="OperationCanceledException">Ctrl+C was pressed during the wait.</exception>
    public Reply Receive(double timeoutSeconds = 2) => Take(Seconds(timeoutSeconds), null, CancellationToken.None);

    /// <summary>Waits up to <paramref name="timeout"/> for the answer to <paramref name="request"/>, or until cancelled.</summary>
    /// <exception cref="TimeoutExceededException">Nothing answered in time.</exception>
    /// <exception cref="ArgumentException">The request was not sent on this socket (or its answer was already received).</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or Ctrl+C pressed.</exception>
    public Reply Receive(Request request, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Take(timeout, request, cancellationToken);
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the next answer to any request, or until cancelled.</summary>
    /// <exception cref="TimeoutExceededException">Nothing answered in time.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled, or Ctrl+C pressed.</exception>
    public Reply Receive(TimeSpan timeout, CancellationToken cancellationToken = default) => Take(timeout, null, cancellationToken);

    private static TimeSpan Seconds(double timeoutSeconds) =>
        timeoutSeconds >= 0 && timeoutSeconds <= int.MaxValue / 1000.0
            ? TimeSpan.FromSeconds(timeoutSeconds)
            : throw new ArgumentOutOfRangeException(nameof(timeoutSeconds), timeoutSeconds, "The timeout is in seconds, from 0 on.");

    private Reply Take(TimeSpan timeout, Request? request, CancellationToken cancellationToken)
    {
        if (timeout < TimeSpan.Zero || timeout.TotalMilliseconds > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout is from 0 to about 24 days.");
        }
        _ = Prober();
        if (timeout <= InterruptibleAfter)
        {
            return TakeOrWait(timeout, request, cancellationToken);
        }
        // The console's Ctrl+C handler (PowerShell's among them) runs first and stops the pipeline; this one
        // ends the wait the pipeline is stuck in.
        using var interrupt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        ConsoleCancelEventHandler onCtrlC = (_, _) => interrupt.Cancel();
        Console.CancelKeyPress += onCtrlC;
        try
        {
            return TakeOrWait(timeout, request, interrupt.Token);
        }
        finally
        {
            Console.CancelKeyPress -= onCtrlC;
        }
    }

    /// <summary>Hands out the first waiting answer that fits, else waits for one until the deadline or the token.</summary>
    private Reply TakeOrWait(TimeSpan timeout, Request? request, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        // Registered outside the gate: disposing a registration waits for its callback, which takes the gate.
        using var wake = cancellationToken.Register(() =>
        {
            lock (_gate)
            {
                Monitor.PulseAll(_gate);
            }
        });
        lock (_gate)
        {
            List<long>? tokens = null;
            if (request is not null && !_tokens.TryGetValue(Key(request), out tokens))
            {
                throw new ArgumentException(
                    $"No request to {request.Destination} with identifier {request.Identifier} and sequence {request.Sequence} waits on this socket.",
                    nameof(request));
            }
            while (true)
            {
                for (var node = _arrived.First; node is not null; node = node.Next)
                {
                    // A timeout inside the prober means the answer window closed: not an answer to hand out.
                    if ((tokens is null || tokens.Contains(node.Value.Token)) && node.Value.Result.Status != IcmpStatus.TimedOut)
                    {
                        _arrived.Remove(node);
                        var sent = _sent[node.Value.Token];
                        if (!_handles.ContainsKey(node.Value.Token))
                        {
                            // Finished in the prober and now handed out: nothing more will come for it.
                            Forget(node.Value.Token);
                        }
                        return ReplyFactory.Create(node.Value.Result, sent.Destination, Family, IsPrivileged);
                    }
                }
                var remaining = deadline - Stopwatch.GetTimestamp();
                if (IsClosed)
                {
                    throw new SocketUnavailableException("The socket was closed while receiving.");
                }
                cancellationToken.ThrowIfCancellationRequested();
                if (remaining <= 0)
                {
                    throw new TimeoutExceededException(timeout);
                }
                Monitor.Wait(_gate, TimeSpan.FromSeconds((double)remaining / Stopwatch.Frequency));
            }
        }
    }

    private static (string, int, int) Key(Request request) => (request.Destination, request.Identifier, request.Sequence);

    /// <summary>Drops a finished request's bookkeeping. Caller holds the gate.</summary>
    private void Forget(long token)
    {
        if (_sent.Remove(token, out var request) && _tokens.TryGetValue(Key(request), out var sends)
            && sends.Remove(token) && sends.Count == 0)
        {
            _tokens.Remove(Key(request));
        }
    }

    private Prober Prober() =>
        Volatile.Read(ref _lease)?.Prober ?? throw new SocketUnavailableException("The socket is closed.");

    /// <summary>An answer to one of our requests (receive thread), or, with <paramref name="final"/>, its probe's end.</summary>
    private void OnAnswer(in ProbeResult result, bool final)
    {
        lock (_gate)
        {
            var token = result.Token;
            if (final && (result.Status == IcmpStatus.TimedOut || (Broadcast && result.Status == IcmpStatus.Success)))
            {
                // The answer window closed: a broadcast has had all its answers (each came on its own), an
                // unanswered request none.
                _handles.Remove(token);
                if (!_arrived.Any(a => a.Token == token))
                {
                    Forget(token);
                }
                return;
            }
            if (_sent.ContainsKey(result.Token))
            {
                if (final)
                {
                    _handles.Remove(result.Token);
                }
                _arrived.AddLast((result.Token, result));
            }
            Monitor.PulseAll(_gate);
        }
    }

    private void OnSent(in ProbeHandle handle, long token)
    {
        lock (_gate)
        {
            if (_sent.ContainsKey(token))
            {
                _handles[token] = handle;
            }
        }
    }

    /// <summary>Closes the socket's hold on the shared prober; waiting receives end with SocketUnavailable.</summary>
    public void Close()
    {
        var lease = Interlocked.Exchange(ref _lease, null);
        if (lease is null)
        {
            return;
        }
        lock (_gate)
        {
            // Requests still out would hold prober slots until their window closed: give them back now.
            foreach (var handle in _handles.Values)
            {
                handle.Cancel();
            }
            _handles.Clear();
            Monitor.PulseAll(_gate);
        }
        lease.Dispose();
    }

    public void Dispose() => Close();

    public override string ToString() =>
        $"IcmpSocket {Family} {(IsPrivileged ? "raw" : "datagram")}{(IsClosed ? " closed" : string.Empty)}";

    /// <summary>The prober calls back on its receive thread; kept apart so the socket's public surface has no observer methods.</summary>
    private sealed class Observer(IcmpSocket socket) : IProbeObserver
    {
        public void OnProbeCompleted(in ProbeResult result) => socket.OnAnswer(in result, final: true);

        public void OnAnswer(in ProbeResult result) => socket.OnAnswer(in result, final: false);

        public void OnProbeSent(in ProbeHandle handle, long token) => socket.OnSent(in handle, token);

        public void OnDuplicate(in ProbeResult result)
        {
            // A duplicated echo reply: the first was the answer.
        }
    }
}
