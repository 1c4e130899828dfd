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

    /// <summary>Throws an <see cref="ArgumentOutOfRangeException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        if (!Continuous)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(Count, 1, nameof(Count));
        }
        if (Interval < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Interval), Interval, "The interval cannot be negative.");
        }
        if (Timeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "The timeout must be positive.");
        }
        ArgumentOutOfRangeException.ThrowIfNegative(PayloadSize, nameof(PayloadSize));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(PayloadSize, MaxPayloadSize, nameof(PayloadSize));
        if (Payload is not null)
        {
            ArgumentOutOfRangeException.ThrowIfGreaterThan(Payload.Count, MaxPayloadSize, nameof(Payload));
        }
        ArgumentOutOfRangeException.ThrowIfLessThan(Ttl, 1, nameof(Ttl));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(Ttl, 255, nameof(Ttl));
        ArgumentOutOfRangeException.ThrowIfNegative(TrafficClass, nameof(TrafficClass));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(TrafficClass, 255, nameof(TrafficClass));
        if (Identifier is { } id)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(id, nameof(Identifier));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(id, ushort.MaxValue, nameof(Identifier));
        }
    }
}
