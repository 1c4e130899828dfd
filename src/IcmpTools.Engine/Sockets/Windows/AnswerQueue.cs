using System.Buffers;
using System.Collections.Concurrent;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets.Windows;

/// <summary>
/// The hand-off from where Windows delivers answers (a thread-pool wait for an iphlpapi completion, the raw
/// socket's receive thread) to the prober's receive loop, which alone may call the sink. Echoed payloads are
/// copied into pooled buffers, given back once the sink has seen them.
/// </summary>
internal sealed class AnswerQueue : IDisposable
{
    private readonly ConcurrentQueue<Entry> _entries = new();
    /// <summary>
    /// Set while a message or a wake waits to be seen. Spin count 0: the prober's loop blocks at once. A SemaphoreSlim
    /// spins first, calling Thread.Sleep(0), which under Wine is a round trip to the wineserver: 1,971 of them in a
    /// loopback /20 (WINEDEBUG=+server), queued in the one wineserver with the receive thread's reads.
    /// </summary>
    private readonly ManualResetEventSlim _signal = new(false, spinCount: 0);
    private int _disposed;

    private readonly record struct Entry(IcmpMessage Message, byte[]? Payload, int Length);

    public bool IsEmpty => _entries.IsEmpty;

    /// <summary>Queues one message; any thread. <paramref name="signal"/> false leaves the wake to a later <see cref="Signal"/>.</summary>
    public void Add(in IcmpMessage message, ReadOnlySpan<byte> echoedPayload, bool signal = true)
    {
        byte[]? copy = null;
        if (!echoedPayload.IsEmpty)
        {
            copy = ArrayPool<byte>.Shared.Rent(echoedPayload.Length);
            echoedPayload.CopyTo(copy);
        }
        _entries.Enqueue(new Entry(message, copy, echoedPayload.Length));
        if (signal)
        {
            Signal();
        }
    }

    /// <summary>Makes a waiting or the next <see cref="Drain"/> return; safe after Dispose.</summary>
    public void Signal()
    {
        if (Volatile.Read(ref _disposed) == 0)
        {
            try
            {
                _signal.Set();
            }
            catch (ObjectDisposedException)
            {
                // Disposed between the check and the release: nobody waits any more.
            }
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeoutMilliseconds"/> for a message or a signal, then hands up to
    /// <paramref name="max"/> queued messages to <paramref name="sink"/>. Returns how many.
    /// </summary>
    public int Drain(int timeoutMilliseconds, IMessageSink sink, int max)
    {
        if (_entries.IsEmpty && !_signal.Wait(timeoutMilliseconds))
        {
            return 0;
        }
        // Cleared before taking: a message queued or a wake raised from here on sets it again, so none is missed. The
        // signals of what this call hands over go with it; one raised while it takes may make the next call return
        // at once with nothing, never more than one.
        _signal.Reset();
        var count = 0;
        while (count < max && _entries.TryDequeue(out var entry))
        {
            try
            {
                var payload = entry.Payload is null ? ReadOnlySpan<byte>.Empty : entry.Payload.AsSpan(0, entry.Length);
                var message = entry.Message;
                sink.OnMessage(in message, payload);
            }
            finally
            {
                if (entry.Payload is not null)
                {
                    ArrayPool<byte>.Shared.Return(entry.Payload);
                }
            }
            count++;
        }
        return count;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _signal.Dispose();
        }
    }
}
