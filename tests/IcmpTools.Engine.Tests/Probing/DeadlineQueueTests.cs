using IcmpTools.Engine.Probing;
using Xunit;

namespace IcmpTools.Engine.Tests.Probing;

/// <summary>The prober's deadline queue: earliest first whatever order deadlines come in, and a sweep's sorted ones never touch the heap.</summary>
public sealed class DeadlineQueueTests
{
    [Fact]
    public void SortedDeadlinesComeOutInOrderWithoutTheHeap()
    {
        var queue = new DeadlineQueue<int>();
        for (var i = 0; i < 1000; i++)
        {
            queue.Enqueue(i, 100 + (i / 3));
        }
        Assert.Equal(0, queue.HeapCount);
        Assert.True(queue.TryPeek(out var head));
        Assert.Equal(100, head);
        var taken = new List<int>();
        while (queue.TryDequeueDue(long.MaxValue, out var item))
        {
            taken.Add(item);
        }
        Assert.Equal(Enumerable.Range(0, 1000), taken);
    }

    [Fact]
    public void MixedDeadlinesComeOutEarliestFirstAndOnlyWhenDue()
    {
        var queue = new DeadlineQueue<int>();
        var random = new Random(16);
        var deadlines = new List<long>();
        for (var i = 0; i < 2000; i++)
        {
            // Mostly rising (a sweep), with earlier ones mixed in (moved deadlines, shorter timeouts).
            var deadline = i % 7 == 0 ? random.Next(0, 2000) : 1000 + i;
            deadlines.Add(deadline);
            queue.Enqueue(i, deadline);
        }
        Assert.True(queue.HeapCount > 0);
        Assert.False(queue.TryDequeueDue(-1, out _));

        var last = long.MinValue;
        var count = 0;
        for (long now = 0; now <= 4000; now += 50)
        {
            while (queue.TryDequeueDue(now, out var item))
            {
                Assert.True(deadlines[item] <= now, $"entry {item} due at {deadlines[item]} came out at {now}");
                Assert.True(deadlines[item] >= last, $"entry {item} ({deadlines[item]}) came out after one due at {last}");
                last = deadlines[item];
                count++;
            }
            if (queue.TryPeek(out var head))
            {
                Assert.True(head > now);
            }
        }
        Assert.Equal(2000, count);
        Assert.Equal(0, queue.Count);
    }
}
