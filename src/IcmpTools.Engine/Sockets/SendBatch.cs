using System.Runtime.CompilerServices;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>One outgoing packet of a batch: where its bytes are and the per-packet IP options.</summary>
public struct OutgoingPacket
{
    public int Offset;
    public int Length;
    public IpKey Destination;
    /// <summary>Source address to send from; <see cref="HasSource"/> false lets the kernel choose.</summary>
    public IpKey Source;
    public bool HasSource;
    public int Ttl;
    public int TrafficClass;
    /// <summary>errno of a failed send, 0 when the packet left.</summary>
    public int Error;
    /// <summary>The sender's own tag for the packet (the prober puts the probe's slot here).</summary>
    public int Tag;
    /// <summary>The key the kernel's transmit timestamp comes back with (the prober puts the probe's serial here).</summary>
    public uint Key;
    /// <summary>
    /// How long the sender waits for an answer, in ticks of the batch clock: a request/response transport
    /// (iphlpapi) keeps its request open at least this long; sockets ignore it.
    /// </summary>
    public long TimeoutTicks;
    /// <summary>The batch clock's timestamp taken just before this packet was handed to the kernel.</summary>
    public long SentTimestamp;
    /// <summary>Wall clock (Unix ns) taken with <see cref="SentTimestamp"/>, to pair with kernel receive timestamps.</summary>
    public long SentRealtimeNs;
}

/// <summary>
/// Packets to send in one system call (sendmmsg). Reused: the prober rents one per send, so nothing is
/// allocated per packet once the buffer has grown to the largest packet in use.
/// </summary>
public sealed class SendBatch
{
    /// <summary>Most packets one batch holds: the transports size their fixed per-call buffers by it.</summary>
    public const int MaxCapacity = 64;

    public SendBatch(int capacity, TimeProvider? clock = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(capacity, MaxCapacity);
        Clock = clock ?? TimeProvider.System;
        Packets = new OutgoingPacket[capacity];
        Buffer = new byte[capacity * 128];
    }

    public int Capacity => Packets.Length;
    public OutgoingPacket[] Packets { get; }
    public byte[] Buffer { get; private set; }
    public int Count { get; private set; }
    public int BytesUsed { get; private set; }

    /// <summary>The clock send times are read from: the prober's, so RTTs and deadlines share one time base.</summary>
    public TimeProvider Clock { get; }

    public bool IsFull => Count == Packets.Length;

    /// <summary>
    /// Called by the sender right before the packets go to the kernel: stamped so late, a reply can never
    /// be seen before its probe is marked as sent, and the stamps sit as close to the wire as user space can.
    /// </summary>
    public Action<SendBatch, int, int>? BeforeSend { get; set; }

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    /// <summary>
    /// Stamps packets [<paramref name="start"/>, <paramref name="start"/>+<paramref name="count"/>) and runs
    /// <see cref="BeforeSend"/> for them; transports call it just before the system call that sends them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Stamp(int start, int count)
    {
        var realtime = Sockets.Clock.RealtimeNs();
        var timestamp = Clock.GetTimestamp();
        for (var i = start; i < start + count; i++)
        {
            Packets[i].SentRealtimeNs = realtime;
            Packets[i].SentTimestamp = timestamp;
        }
        BeforeSend?.Invoke(this, start, count);
    }

    public void Clear()
    {
        Count = 0;
        BytesUsed = 0;
    }

    /// <summary>Reserves room for one packet of up to <paramref name="maxLength"/> bytes and returns its index.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public int Add(int maxLength, in IpKey destination, in IpKey source, bool hasSource, int ttl, int trafficClass)
    {
        if (IsFull)
        {
            throw new InvalidOperationException("The send batch is full.");
        }
        if (BytesUsed + maxLength > Buffer.Length)
        {
            var grown = new byte[Math.Max(Buffer.Length * 2, BytesUsed + maxLength)];
            Buffer.AsSpan(0, BytesUsed).CopyTo(grown);
            Buffer = grown;
        }
        var index = Count++;
        ref var p = ref Packets[index];
        p.Offset = BytesUsed;
        p.Length = maxLength;
        p.Destination = destination;
        p.Source = source;
        p.HasSource = hasSource;
        p.Ttl = ttl;
        p.TrafficClass = trafficClass;
        p.Error = 0;
        p.TimeoutTicks = 0;
        p.SentTimestamp = 0;
        p.SentRealtimeNs = 0;
        BytesUsed += maxLength;
        return index;
    }

    public Span<byte> PacketSpan(int index) => Buffer.AsSpan(Packets[index].Offset, Packets[index].Length);
}
