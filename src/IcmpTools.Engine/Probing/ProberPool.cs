using IcmpTools.Engine.Models;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Probing;

/// <summary>
/// The process's shared probers: one socket (and one receive thread) per <see cref="ProberKey"/> and
/// network namespace, shared by every operation and runspace, and closed when the last user lets go (or, where
/// the user asks for it, a moment later, for the next: see <see cref="Acquire(ProberKey, TimeSpan)"/>).
/// The namespace is part of the key because a socket belongs to the namespace of the thread that opened
/// it (Linux setns is per thread), so two namespaces can never share one.
/// </summary>
public static class ProberPool
{
    private static readonly object Gate = new();
    private static readonly Dictionary<(ProberKey Key, string Namespace), Entry> Entries = new();

    private sealed class Entry(Prober prober)
    {
        public Prober Prober { get; } = prober;
        public int References;
        /// <summary>Closes the prober when its keep runs out with no lease taken since; null while leased. Under <see cref="Gate"/>.</summary>
        public ITimer? Closer;
        /// <summary>Counts the keeps, so that a keep's timer firing late (a lease came and went meanwhile) leaves the next keep alone.</summary>
        public long Keeps;
    }

    /// <summary>Opens (or shares) a raw prober for the family.</summary>
    public static ProberLease Acquire(IcmpFamily family, bool dontFragment = false) =>
        Acquire(new ProberKey(family, SocketKind.Raw, dontFragment));

    /// <summary>
    /// Opens (or shares) the prober for the key. Opens the socket on the calling thread, so it lives in
    /// that thread's network namespace. Throws <see cref="Errors.SocketPermissionException"/> without permission.
    /// A prober whose socket failed is not shared again: the next caller gets a new one.
    /// </summary>
    /// <param name="keepIdle">
    /// How long the prober stays open once this lease, the last, lets go, for the next caller of the same key; zero
    /// closes it at once. For commands of a few probes a call (a path MTU search), whose sockets and receive thread
    /// cost more to open and close than their probes take; <see cref="CloseIdle()"/> closes every kept one at once.
    /// </param>
    public static ProberLease Acquire(ProberKey key, TimeSpan keepIdle = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(keepIdle, TimeSpan.Zero);
        var poolKey = (key, CurrentNamespace());
        lock (Gate)
        {
            if (!Entries.TryGetValue(poolKey, out var entry) || entry.Prober.Failure is not null)
            {
                entry = new Entry(new Prober(TransportFactory.Open(key))
                {
                    Broadcasts = key.Family == IcmpFamily.IPv4 ? LocalBroadcasts.Read() : LocalBroadcasts.None,
                });
                Entries[poolKey] = entry;
            }
            entry.References++;
            entry.Closer?.Dispose();
            entry.Closer = null;
            return new ProberLease(entry.Prober, () => Release(poolKey, entry, keepIdle));
        }
    }

    /// <summary>
    /// The default policy: a raw socket when the process may open one, otherwise a datagram ("ping") socket;
    /// <paramref name="unprivileged"/> asks for the datagram socket only. Root with ping_group_range "1 0" may
    /// open no datagram socket, so a raw socket that opens is never second-guessed.
    /// </summary>
    /// <param name="key">The socket wanted; its <see cref="ProberKey.Kind"/> is what the policy decides.</param>
    /// <exception cref="Errors.SocketPermissionException">Neither kind may be opened; the message says how to allow one.</exception>
    /// <param name="keepIdle">See <see cref="Acquire(ProberKey, TimeSpan)"/>.</param>
    public static ProberLease AcquireAuto(ProberKey key, bool unprivileged = false, TimeSpan keepIdle = default)
    {
        if (!unprivileged)
        {
            try
            {
                return Acquire(key with { Kind = SocketKind.Raw }, keepIdle);
            }
            catch (Errors.SocketPermissionException)
            {
                // Not permitted: the datagram socket may be.
            }
        }
        try
        {
            return Acquire(key with { Kind = SocketKind.Datagram }, keepIdle);
        }
        catch (Errors.SocketPermissionException e) when (!unprivileged)
        {
            throw new Errors.SocketPermissionException(PermissionAdvice.NeitherAllowed(), e);
        }
    }

    /// <summary>Sockets the pool holds open now (for tests and diagnostics).</summary>
    public static int OpenCount
    {
        get
        {
            lock (Gate)
            {
                return Entries.Count;
            }
        }
    }

    /// <summary>Probers kept open with no lease on them (see <see cref="Acquire(ProberKey, TimeSpan)"/>).</summary>
    public static int IdleCount
    {
        get
        {
            lock (Gate)
            {
                return Entries.Values.Count(e => e.References == 0);
            }
        }
    }

    /// <summary>Probers some lease holds now: zero once every command has given its leases back, whatever is kept idle.</summary>
    public static int LeasedCount
    {
        get
        {
            lock (Gate)
            {
                return Entries.Values.Count(e => e.References > 0);
            }
        }
    }

    /// <summary>
    /// Closes every prober kept open with no lease on it, now (the module's removal: nothing may stay open behind it).
    /// A prober still leased stays, and closes when its last lease lets go, as ever.
    /// </summary>
    public static void CloseIdle()
    {
        List<Entry> idle;
        lock (Gate)
        {
            idle = [.. Entries.Values.Where(e => e.References == 0)];
            foreach (var entry in idle)
            {
                Forget(entry);
            }
        }
        foreach (var entry in idle)
        {
            entry.Prober.Dispose();
        }
    }

    private static void Release((ProberKey, string) key, Entry entry, TimeSpan keepIdle)
    {
        lock (Gate)
        {
            if (--entry.References > 0)
            {
                return;
            }
            if (keepIdle > TimeSpan.Zero && entry.Prober.Failure is null && Entries.TryGetValue(key, out var current) && current == entry)
            {
                var keep = (entry, ++entry.Keeps);
                // The timer holds nothing of the caller's (its execution context: a runspace's, say) for the keep.
                using (ExecutionContext.SuppressFlow())
                {
                    entry.Closer = TimeProvider.System.CreateTimer(static state => CloseIfIdle(((Entry, long))state!), keep, keepIdle, Timeout.InfiniteTimeSpan);
                }
                return;
            }
            Forget(entry);
        }
        entry.Prober.Dispose();
    }

    /// <summary>The keep ran out: closes the prober unless a lease took it again meanwhile.</summary>
    private static void CloseIfIdle((Entry Entry, long Keep) keep)
    {
        var entry = keep.Entry;
        lock (Gate)
        {
            if (entry.References > 0 || entry.Keeps != keep.Keep || entry.Closer is null)
            {
                return;
            }
            Forget(entry);
        }
        entry.Prober.Dispose();
    }

    /// <summary>Takes an entry nobody leases out of the pool (its prober is the caller's to close, outside the lock). Under <see cref="Gate"/>.</summary>
    private static void Forget(Entry entry)
    {
        entry.Closer?.Dispose();
        entry.Closer = null;
        foreach (var (key, current) in Entries)
        {
            if (current == entry)
            {
                Entries.Remove(key);
                break;
            }
        }
    }

    /// <summary>The calling thread's network namespace ("net:[inode]"), or empty off Linux.</summary>
    public static string CurrentNamespace()
    {
        if (!OperatingSystem.IsLinux())
        {
            return string.Empty;
        }
        return new FileInfo("/proc/thread-self/ns/net").LinkTarget ?? string.Empty;
    }
}

/// <summary>A hold on a shared prober; disposing it lets the socket close once nobody else holds it.</summary>
public sealed class ProberLease : IDisposable
{
    private Action? _release;

    internal ProberLease(Prober prober, Action release)
    {
        Prober = prober;
        _release = release;
    }

    public Prober Prober { get; }

    public void Dispose() => Interlocked.Exchange(ref _release, null)?.Invoke();
}
