namespace IcmpTools.Engine.Sockets;

/// <summary>
/// A fixed, pinned buffer of slots that one receive call (recvmmsg) fills. Pinned once so native code
/// can write into it without pinning per call.
/// </summary>
internal sealed class ReceiveBatch
{
    public ReceiveBatch(int capacity, int slotSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotSize, 64);
        SlotSize = slotSize;
        Capacity = capacity;
        Buffer = GC.AllocateArray<byte>(capacity * slotSize, pinned: true);
    }

    public int Capacity { get; }
    public int SlotSize { get; }
    public byte[] Buffer { get; }

    public Span<byte> Slot(int index) => Buffer.AsSpan(index * SlotSize, SlotSize);
}
