using System.Net;

namespace IcmpTools.Engine.Operations;

/// <summary>How to sweep many hosts.</summary>
public sealed record MultiPingOptions
{
    /// <summary>Probes per host.</summary>
    public int Count { get; init; } = 2;
    /// <summary>Time between two probes to the same host.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(0.5);
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>Probes per second over the whole sweep; 0 sends as fast as the socket takes them.</summary>
    public int Rate { get; init; } = 10_000;
    /// <summary>
    /// Hosts in flight at once; memory is bounded by this, not by the number of targets. High enough that a
    /// mostly dead block (each dead host holds its place for the whole timeout) still runs at the rate asked
    /// for: a pending host costs a few hundred bytes, so 65,536 of them stay within tens of megabytes.
    /// </summary>
    public int ThrottleLimit { get; init; } = DefaultThrottleLimit;

    public const int DefaultThrottleLimit = 65_536;
    public int PayloadSize { get; init; } = 56;
    public int Ttl { get; init; } = 64;
    public int TrafficClass { get; init; }
    public IPAddress? Source { get; init; }
    public Models.IcmpFamily? Family { get; init; }
    public bool IncludeNetworkAndBroadcast { get; init; }
    /// <summary>Which finished hosts the sweep yields (fping's -a / -u); errors are always yielded.</summary>
    public SweepEmit Emit { get; init; } = SweepEmit.All;
    /// <summary>Allow blocks over <see cref="SweepTarget.ConfirmationThreshold"/> addresses.</summary>
    public bool AllowHugeBlocks { get; init; }

    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(Count, 1, nameof(Count));
        ArgumentOutOfRangeException.ThrowIfNegative(Rate, nameof(Rate));
        ArgumentOutOfRangeException.ThrowIfLessThan(ThrottleLimit, 1, nameof(ThrottleLimit));
        PingOptions.ValidateCommon(Interval, Timeout, PayloadSize, Ttl, TrafficClass);
    }
}

/// <summary>Which hosts a sweep yields: every one, only those that answered, or only those that did not.</summary>
public enum SweepEmit
{
    All,
    Alive,
    Dead,
}

/// <summary>What a sweep yields for one target: a finished host, or why the target could not be swept.</summary>
public sealed class SweepResult
{
    public SweepResult(string target, Models.Host? host, Exception? error)
    {
        Target = target;
        Host = host;
        Error = error;
    }

    /// <summary>The target as the user wrote it (a block for every host in it).</summary>
    public string Target { get; }
    public Models.Host? Host { get; }
    public Exception? Error { get; }
}
