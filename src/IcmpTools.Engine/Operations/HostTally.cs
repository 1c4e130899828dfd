using IcmpTools.Engine.Models;
using IcmpTools.Engine.Probing;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// Gathers one host's probe outcomes into a <see cref="Host"/>; RTTs are kept in send order. Outcomes may
/// arrive from the receive thread and a sender thread at once: each probe owns its array cell and the
/// count is interlocked, so only the rare failure path takes a lock.
/// </summary>
internal sealed class HostTally
{
    /// <summary>RTT per probe index; NaN until that probe is answered.</summary>
    private double[] _rtts;
    private int _sent;
    private int _duplicates;
    private IcmpStatus _worst = IcmpStatus.TimedOut;
    private string? _worstSource;
    private bool _anyFailure;
    private readonly object _gate = new();

    public HostTally(int expected)
    {
        _rtts = new double[Math.Max(1, expected)];
        Array.Fill(_rtts, double.NaN);
    }

    public int Sent => _sent;

    private int _completed;

    public int Completed => Volatile.Read(ref _completed);

    public void MarkSent() => Interlocked.Increment(ref _sent);

    /// <summary>Records one probe's outcome and returns how many outcomes the host now has.</summary>
    public int Add(in ProbeResult result, int index, IcmpFamily family)
    {
        if (index >= _rtts.Length)
        {
            var old = _rtts.Length;
            Array.Resize(ref _rtts, Math.Max(index + 1, old * 2));
            Array.Fill(_rtts, double.NaN, old, _rtts.Length - old);
        }
        if (result.Status == IcmpStatus.Success)
        {
            _rtts[index] = result.RttMilliseconds;
            return Interlocked.Increment(ref _completed);
        }
        lock (_gate)
        {
            // An ICMP error says more than a send failure, which says more than silence.
            if (!_anyFailure || Rank(result.Status) > Rank(_worst))
            {
                _anyFailure = true;
                _worst = result.Status;
                _worstSource = result.Status is IcmpStatus.TimedOut or IcmpStatus.SendFailed
                    ? null
                    : result.Responder.ToAddress(family).ToString();
            }
        }
        return Interlocked.Increment(ref _completed);
    }

    public bool AnyAnswered
    {
        get
        {
            foreach (var rtt in _rtts)
            {
                if (!double.IsNaN(rtt))
                {
                    return true;
                }
            }
            return false;
        }
    }

    public void AddDuplicate() => Interlocked.Increment(ref _duplicates);

    public Host Build(string address, string? name, IcmpFamily family, bool isPrivileged)
    {
        var rtts = new List<double>(_completed);
        for (var i = 0; i < Math.Min(_sent, _rtts.Length); i++)
        {
            if (!double.IsNaN(_rtts[i]))
            {
                rtts.Add(_rtts[i]);
            }
        }
        var alive = rtts.Count > 0;
        return new Host(address, name, family, _sent, rtts, _duplicates, alive ? IcmpStatus.Success : _worst,
            alive ? null : _worstSource)
        {
            IsPrivileged = isPrivileged,
        };
    }

    private static int Rank(IcmpStatus status) => status switch
    {
        IcmpStatus.TimedOut => 0,
        IcmpStatus.SendFailed => 1,
        _ => 2,
    };
}
