using System.Runtime.CompilerServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Probing;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// Gathers one host's probe outcomes into a <see cref="Host"/>; RTTs are kept in send order. Storage grows
/// with what arrives, never with what was asked for, so -Count 2147483647 costs what it has sent so far.
/// Outcomes may come from the receive thread and a sender's thread at once, so every change is under a
/// lock that nothing else contends for (each host has its own).
/// </summary>
/// <remarks>
/// Duplicates: a second echo reply to an answered probe counts when it arrived (on the prober's clock)
/// before the host's last outcome, the moment its result is complete. A duplicate of the last probe is
/// never counted, since the host is reported at its last answer. Arrival times, not the order the
/// receive loop read them in, decide, so the count does not depend on the machine's speed.
/// </remarks>
internal sealed class HostTally
{
    private readonly object _gate = new();
    private double[] _rtts = [];
    private int _sent;
    private int _completed;
    private int _answered;
    private long _lastOutcome = long.MinValue;
    private List<long>? _duplicates;
    private IcmpStatus _worst = IcmpStatus.TimedOut;
    private string? _worstSource;
    private int _worstRank;
    private int _worstMtu;
    private int _worstPointer = -1;
    private int? _worstCode;
    private bool _anyFailure;

    public int Sent => Volatile.Read(ref _sent);

    public int Completed => Volatile.Read(ref _completed);

    public bool AnyAnswered => Volatile.Read(ref _answered) > 0;

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MarkSent() => Interlocked.Increment(ref _sent);

    /// <summary>Records one probe's outcome and returns how many outcomes the host now has.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Add(in ProbeResult result, long index, IcmpFamily family)
    {
        lock (_gate)
        {
            _lastOutcome = Math.Max(_lastOutcome, result.EventTimestamp);
            if (result.Status == IcmpStatus.Success)
            {
                if (index >= _rtts.Length)
                {
                    var old = _rtts.Length;
                    Array.Resize(ref _rtts, (int)Math.Min(Array.MaxLength, Math.Max(index + 1, Math.Max(4, (long)old * 2))));
                    Array.Fill(_rtts, double.NaN, old, _rtts.Length - old);
                }
                _rtts[index] = result.RttMilliseconds;
                _answered++;
            }
            // An ICMP error says more than a send failure, which says more than silence.
            else if (!_anyFailure || Rank(in result) > _worstRank)
            {
                _anyFailure = true;
                _worst = result.Status;
                _worstRank = Rank(in result);
                _worstSource = ReplyFactory.HasResponder(in result) ? result.Responder.ToAddress(family).ToString() : null;
                _worstMtu = result.Mtu;
                _worstPointer = result.Pointer;
                _worstCode = result.Status is not (IcmpStatus.TimedOut or IcmpStatus.SendFailed) ? result.Code : null;
            }
            return ++_completed;
        }
    }

    public void AddDuplicate(in ProbeResult result)
    {
        lock (_gate)
        {
            (_duplicates ??= new List<long>(1)).Add(result.EventTimestamp);
        }
    }

    public Host Build(string address, string? name, IcmpFamily family, bool isPrivileged)
    {
        lock (_gate)
        {
            var rtts = new List<double>(_answered);
            for (var i = 0; i < Math.Min(_sent, _rtts.Length); i++)
            {
                if (!double.IsNaN(_rtts[i]))
                {
                    rtts.Add(_rtts[i]);
                }
            }
            var duplicates = _duplicates?.Count(at => at < _lastOutcome) ?? 0;
            var alive = rtts.Count > 0;
            return new Host(address, name, family, _sent, rtts, duplicates, alive ? IcmpStatus.Success : _worst,
                alive ? null : _worstSource)
            {
                IsPrivileged = isPrivileged,
                Mtu = !alive && _worstMtu > 0 ? _worstMtu : null,
                Pointer = !alive && _worst == IcmpStatus.ParameterProblem && _worstPointer >= 0 ? _worstPointer : null,
                Code = alive ? null : _worstCode,
            };
        }
    }

    /// <summary>An ICMP error from the network beats the kernel's own refusal to send a packet larger than the path MTU it
    /// learned from one, which beats any other failed send, which beats silence.</summary>
    private static int Rank(in ProbeResult result) => result.Status switch
    {
        IcmpStatus.TimedOut => 0,
        IcmpStatus.SendFailed => 1,
        _ when result.Type < 0 => 2,
        _ => 3,
    };
}
