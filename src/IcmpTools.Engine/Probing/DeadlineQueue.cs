using System.Runtime.CompilerServices;

namespace IcmpTools.Engine.Probing;

/// <summary>
/// The prober's probe deadlines, earliest first. A sweep's probes share one timeout and leave in send order,
/// so their deadlines come in sorted: those go to a ring (constant time, no comparisons, nothing moved), and
/// only a deadline earlier than the ring's last one (a shorter timeout, a deadline moved by traceroute, two
/// senders finishing out of order) goes to a heap. The earliest of the two heads comes out first, so the
/// order is exact. Not thread-safe: the prober holds its deadline lock around every call.
/// </summary>
internal sealed class DeadlineQueue<T>
    where T : struct
{
    private readonly PriorityQueue<T, long> _heap = new();
    private T[] _ring = new T[256];
    private long[] _times = new long[256];
    private int _head;
    private int _count;

    public int Count => _count + _heap.Count;

    /// <summary>Entries that went to the heap rather than the ring (for tests and the profile).</summary>
    public int HeapCount => _heap.Count;

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Enqueue(T item, long deadline)
    {
        if (_count > 0 && deadline < _times[(_head + _count - 1) & (_ring.Length - 1)])
        {
            _heap.Enqueue(item, deadline);
            return;
        }
        if (_count == _ring.Length)
        {
            Grow();
        }
        var at = (_head + _count) & (_ring.Length - 1);
        _ring[at] = item;
        _times[at] = deadline;
        _count++;
    }

    /// <summary>The earliest deadline queued; false when empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryPeek(out long deadline)
    {
        var inRing = _count > 0;
        var inHeap = _heap.TryPeek(out _, out var heapHead);
        deadline = !inRing ? heapHead : !inHeap ? _times[_head] : Math.Min(_times[_head], heapHead);
        return inRing || inHeap;
    }

    /// <summary>Takes the earliest entry when its deadline is at or before <paramref name="now"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryDequeueDue(long now, out T item)
    {
        var inHeap = _heap.TryPeek(out var heapItem, out var heapHead);
        if (_count > 0 && _times[_head] <= now && (!inHeap || _times[_head] <= heapHead))
        {
            item = _ring[_head];
            _ring[_head] = default;
            _head = (_head + 1) & (_ring.Length - 1);
            _count--;
            return true;
        }
        if (inHeap && heapHead <= now)
        {
            _heap.Dequeue();
            item = heapItem;
            return true;
        }
        item = default;
        return false;
    }

    /// <summary>Every entry, ring first in its order, then the heap's in no order (for the prober's compaction).</summary>
    public IEnumerable<(T Element, long Priority)> UnorderedItems
    {
        get
        {
            for (var i = 0; i < _count; i++)
            {
                var at = (_head + i) & (_ring.Length - 1);
                yield return (_ring[at], _times[at]);
            }
            foreach (var item in _heap.UnorderedItems)
            {
                yield return item;
            }
        }
    }

    public void Clear()
    {
        Array.Clear(_ring);
        _head = 0;
        _count = 0;
        _heap.Clear();
    }

    /// <summary>Enqueues each entry as <see cref="Enqueue"/> does: in deadline order, all go to the ring.</summary>
    public void EnqueueRange(IEnumerable<(T Element, long Priority)> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        foreach (var (element, priority) in items)
        {
            Enqueue(element, priority);
        }
    }

    private void Grow()
    {
        var ring = new T[_ring.Length * 2];
        var times = new long[_ring.Length * 2];
        for (var i = 0; i < _count; i++)
        {
            ring[i] = _ring[(_head + i) & (_ring.Length - 1)];
            times[i] = _times[(_head + i) & (_ring.Length - 1)];
        }
        _ring = ring;
        _times = times;
        _head = 0;
    }
}
