using System.Collections.Concurrent;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// A fixed, pinned buffer of slots that one receive call (recvmmsg) fills. Pinned once so native code
/// can write into it without pinning per call.
/// </summary>
internal sealed class ReceiveBatch
{
    /// <summary>
    /// The buffer of the last transport closed, one per size, for the next one opened: a transport's buffer is 4 MB,
    /// and a command that opens and closes its socket per call (a path MTU search) made one pinned 4 MB array of
    /// garbage per call, a full (gen 2) collection every few calls.
    /// </summary>
    private static readonly ConcurrentDictionary<int, byte[]> Spares = new();
    private int _released;

    public ReceiveBatch(int capacity, int slotSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(slotSize, 64);
        SlotSize = slotSize;
        Capacity = capacity;
        // A spare holds an earlier socket's bytes: every reader reads only the length the kernel wrote in this call.
        Buffer = Spares.TryRemove(capacity * slotSize, out var spare)
            ? spare
            : GC.AllocateArray<byte>(capacity * slotSize, pinned: true);
    }

    public int Capacity { get; }
    public int SlotSize { get; }
    public byte[] Buffer { get; }

    public Span<byte> Slot(int index) => Buffer.AsSpan(index * SlotSize, SlotSize);

    /// <summary>Leaves the buffer to the next batch of its size; only once no receive call can write into it any more.</summary>
    public void Release()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
        {
            Spares.TryAdd(Buffer.Length, Buffer);
        }
    }
}
