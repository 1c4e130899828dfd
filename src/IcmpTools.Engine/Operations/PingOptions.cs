using System.Net;

namespace IcmpTools.Engine.Operations;

/// <summary>How to ping one address. Defaults are iputils ping's, so numbers compare like for like.</summary>
public sealed record PingOptions
{
    public const int MaxPayloadSize = 65_500;

    /// <summary>Probes to send; ignored when <see cref="Continuous"/>.</summary>
    public int Count { get; init; } = 4;
    /// <summary>Keep pinging until cancelled.</summary>
    public bool Continuous { get; init; }
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>How long to wait for each probe's answer.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(2);
    public int PayloadSize { get; init; } = 56;
    /// <summary>Exact payload bytes, sent instead of <see cref="PayloadSize"/> bytes of cookie and fill.</summary>
    public IReadOnlyList<byte>? Payload { get; init; }
    public int Ttl { get; init; } = 64;
    public int TrafficClass { get; init; }
    public bool DontFragment { get; init; }
    public IPAddress? Source { get; init; }
    /// <summary>ICMP identifier; null picks a random one per operation.</summary>
    public int? Identifier { get; init; }
    /// <summary>
    /// The target is a broadcast address: every host that answers a probe before its timeout is one Reply
    /// (the probe collects answers instead of finishing at the first). Only <see cref="Ping.StreamAsync(Probing.Prober, IPAddress, PingOptions, CancellationToken)"/> takes it.
    /// </summary>
    public bool Broadcast { get; init; }

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (!Continuous)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(Count, 1, nameof(Count));
        }
        ValidateCommon(Interval, Timeout, PayloadSize, Ttl, TrafficClass);
        if (Payload is not null)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(Payload.Count, MaxPayloadSize, nameof(Payload));
        }
        if (Identifier is { } id)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(Identifier));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(id, ushort.MaxValue, nameof(Identifier));
        }
    }

    /// <summary>The checks every probing operation shares: timing, payload size and IP options.</summary>
    internal static void ValidateCommon(TimeSpan interval, TimeSpan timeout, int payloadSize, int ttl, int trafficClass)
    {
        if (interval < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), interval, "The interval cannot be negative.");
        }
        if (timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be positive.");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(payloadSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payloadSize, MaxPayloadSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(ttl, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(ttl, 255);
        ArgumentOutOfRangeException.ThrowIfNegative(trafficClass);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(trafficClass, 255);
    }
}
