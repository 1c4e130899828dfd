using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>One received datagram's place in the batch buffer and what the kernel said of it.</summary>
public struct ReceivedPacket
{
    /// <summary>Bytes stored at <see cref="ReceiveBatch.Slot"/>.</summary>
    public int Length;
    /// <summary>Bytes the datagram really had (more than Length when it was cut to the slot).</summary>
    public int FullLength;
    public IpKey Source;
    /// <summary>Kernel receive time (Unix ns, SO_TIMESTAMPNS); 0 when the platform gave none.</summary>
    public long KernelRealtimeNs;
    /// <summary>Hop limit from ancillary data (IPv6); -1 when not given.</summary>
    public int HopLimit;
}

/// <summary>
/// A fixed, pinned buffer of slots that one receive call (recvmmsg) fills. Pinned once so native code
/// can write into it without pinning per call.
/// </summary>
public sealed class ReceiveBatch
{
    public ReceiveBatch(int capacity, int slotSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotSize, 64);
        SlotSize = slotSize;
        Packets = new ReceivedPacket[capacity];
        Buffer = GC.AllocateArray<byte>(capacity * slotSize, pinned: true);
    }

    public int Capacity => Packets.Length;
    public int SlotSize { get; }
    public byte[] Buffer { get; }
    public ReceivedPacket[] Packets { get; }

    /// <summary>Stopwatch ticks taken right after the receive call returned.</summary>
    public long ReceivedTimestamp { get; set; }

    public Span<byte> Slot(int index) => Buffer.AsSpan(index * SlotSize, SlotSize);

    public ReadOnlySpan<byte> Data(int index) => Buffer.AsSpan(index * SlotSize, Packets[index].Length);
}
