using IcmpTools.Engine.Models;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Probing;

/// <summary>
/// The process's shared probers: one socket (and one receive thread) per <see cref="ProberKey"/> and
/// network namespace, shared by every operation and runspace, and closed when the last user lets go.
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
    }

    /// <summary>Opens (or shares) a raw prober for the family.</summary>
    public static ProberLease Acquire(IcmpFamily family, bool dontFragment = false) =>
        Acquire(new ProberKey(family, SocketKind.Raw, dontFragment));

    /// <summary>
    /// Opens (or shares) the prober for the key. Opens the socket on the calling thread, so it lives in
    /// that thread's network namespace. Throws <see cref="Errors.SocketPermissionException"/> without permission.
    /// A prober whose socket failed is not shared again: the next caller gets a new one.
    /// </summary>
    public static ProberLease Acquire(ProberKey key)
    {
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
            return new ProberLease(entry.Prober, () => Release(poolKey, entry));
        }
    }

    /// <summary>
    /// The default policy: a raw socket when the process may open one, otherwise a datagram ("ping") socket;
    /// <paramref name="unprivileged"/> asks for the datagram socket only. Root with ping_group_range "1 0" may
    /// open no datagram socket, so a raw socket that opens is never second-guessed.
    /// </summary>
    /// <param name="key">The socket wanted; its <see cref="ProberKey.Kind"/> is what the policy decides.</param>
    /// <exception cref="Errors.SocketPermissionException">Neither kind may be opened; the message says how to allow one.</exception>
    public static ProberLease AcquireAuto(ProberKey key, bool unprivileged = false)
    {
        if (!unprivileged)
        {
            try
            {
                return Acquire(key with { Kind = SocketKind.Raw });
            }
            catch (Errors.SocketPermissionException)
            {
                // Not permitted: the datagram socket may be.
            }
        }
        try
        {
            return Acquire(key with { Kind = SocketKind.Datagram });
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

    private static void Release((ProberKey, string) key, Entry entry)
    {
        lock (Gate)
        {
            if (--entry.References > 0)
            {
                return;
            }
            if (Entries.TryGetValue(key, out var current) && current == entry)
            {
                Entries.Remove(key);
            }
        }
        entry.Prober.Dispose();
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
