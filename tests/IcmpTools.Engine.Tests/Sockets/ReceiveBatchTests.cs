using IcmpTools.Engine.Sockets;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets;

/// <summary>A closed transport's 4 MB receive buffer goes to the next one opened, never to two at once.</summary>
public sealed class ReceiveBatchTests
{
    // A size no transport uses, so that tests running beside this one never take its spare.
    private const int Capacity = 3;
    private const int SlotSize = 71;

    [Fact]
    public void AReleasedBufferGoesToTheNextBatchOfItsSizeOnly()
    {
        var first = new ReceiveBatch(Capacity, SlotSize);
        var open = new ReceiveBatch(Capacity, SlotSize);
        Assert.NotSame(first.Buffer, open.Buffer);

        first.Release();
        first.Release();
        var second = new ReceiveBatch(Capacity, SlotSize);
        var third = new ReceiveBatch(Capacity, SlotSize);

        Assert.Same(first.Buffer, second.Buffer);
        // Released twice, handed out once: the batch after it gets a buffer of its own.
        Assert.NotSame(first.Buffer, third.Buffer);
        Assert.NotSame(open.Buffer, third.Buffer);
        Assert.Equal(Capacity * SlotSize, third.Buffer.Length);
        var other = new ReceiveBatch(Capacity, SlotSize + 1);
        Assert.NotSame(first.Buffer, other.Buffer);
    }
}
