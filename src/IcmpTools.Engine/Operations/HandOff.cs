using System.Collections.Concurrent;
using System.Runtime.CompilerServices;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// Hands items from the prober's receive thread to one consumer. Adding is lock-free and wakes the
/// consumer only when it is asleep: a Channel takes a lock on every write, which the receive thread
/// and the consumer fought over on every finished host of a sweep.
/// </summary>
internal sealed class HandOff<T> : IDisposable
{
    private readonly ConcurrentQueue<T> _items = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private int _sleeping;
    private volatile bool _completed;

    public void Add(T item)
    {
        _items.Enqueue(item);
        WakeIfSleeping();
    }

    /// <summary>No more items will come; the consumer ends once it has taken those already added.</summary>
    public void Complete()
    {
        _completed = true;
        WakeIfSleeping();
    }

    private void WakeIfSleeping()
    {
        if (Volatile.Read(ref _sleeping) == 1 && Interlocked.Exchange(ref _sleeping, 0) == 1)
        {
            _wake.Release();
        }
    }

    public async IAsyncEnumerable<T> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (true)
        {
            while (_items.TryDequeue(out var item))
            {
                yield return item;
            }
            if (_completed)
            {
                // Items added before Complete are visible now; take them and stop.
                while (_items.TryDequeue(out var item))
                {
                    yield return item;
                }
                yield break;
            }
            // Announce sleep with a full fence, then look again: an Add in between either is seen here
            // or sees us asleep and wakes us.
            Interlocked.Exchange(ref _sleeping, 1);
            if (!_items.IsEmpty || _completed)
            {
                if (Interlocked.Exchange(ref _sleeping, 0) == 0)
                {
                    // A producer already took our sleep and released the semaphore: consume that release.
                    await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
                }
                continue;
            }
            await _wake.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose() => _wake.Dispose();
}
