using IcmpTools.Engine.Models;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Probing;

/// <summary>
/// The process's shared probers: one socket (and one receive thread) per address family, socket options
/// and network namespace, shared by every operation and runspace, and closed when the last user lets go.
/// The namespace is part of the key because a socket belongs to the namespace of the thread that opened
/// it (Linux setns is per thread), so two namespaces can never share one.
/// </summary>
public static class ProberPool
{
    private static readonly object Gate = new();
    private static readonly Dictionary<PoolKey, Entry> Entries = new();

    private readonly record struct PoolKey(IcmpFamily Family, SocketKind Kind, bool DontFragment, string? Interface, bool Broadcast, string Namespace);

    private sealed class Entry(Prober prober)
    {
        public Prober Prober { get; } = prober;
        public int References;
    }

    /// <summary>
    /// Opens (or shares) the prober for the family. Opens the socket on the calling thread, so it lives in
    /// that thread's network namespace. Throws <see cref="Errors.SocketPermissionException"/> without CAP_NET_RAW.
    /// </summary>
    public static ProberLease Acquire(IcmpFamily family, bool dontFragment = false, SocketKind kind = SocketKind.Raw,
        string? interfaceName = null, bool broadcast = false)
    {
        var key = new PoolKey(family, kind, dontFragment, interfaceName, broadcast, CurrentNamespace());
        lock (Gate)
        {
            if (!Entries.TryGetValue(key, out var entry))
            {
                IIcmpTransport transport = kind == SocketKind.Raw
                    ? new RawSocketTransport(family, dontFragment, interfaceName, broadcast)
                    : new DatagramSocketTransport(family, dontFragment, interfaceName, broadcast);
                entry = new Entry(new Prober(transport, kind));
                Entries.Add(key, entry);
            }
            entry.References++;
            return new ProberLease(entry.Prober, () => Release(key, entry));
        }
    }

    /// <summary>
    /// The default policy: a raw socket when the process may open one, otherwise a datagram ("ping") socket;
    /// <paramref name="unprivileged"/> asks for the datagram socket only. Root with ping_group_range "1 0" may
    /// open no datagram socket, so a raw socket that opens is never second-guessed.
    /// </summary>
    /// <exception cref="Errors.SocketPermissionException">Neither kind may be opened; the message says how to allow one.</exception>
    public static ProberLease AcquireAuto(IcmpFamily family, bool dontFragment = false, string? interfaceName = null,
        bool broadcast = false, bool unprivileged = false)
    {
        if (!unprivileged)
        {
            try
            {
                return Acquire(family, dontFragment, SocketKind.Raw, interfaceName, broadcast);
            }
            catch (Errors.SocketPermissionException)
            {
                // Not permitted: fall through to the datagram socket.
            }
        }
        try
        {
            return Acquire(family, dontFragment, SocketKind.Datagram, interfaceName, broadcast);
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

    private static void Release(PoolKey key, Entry entry)
    {
        lock (Gate)
        {
            if (--entry.References > 0)
            {
                return;
            }
            Entries.Remove(key);
        }
        entry.Prober.Dispose();
    }

    private static string CurrentNamespace()
    {
        if (!OperatingSystem.IsLinux())
        {
            return string.Empty;
        }
        // /proc/thread-self/ns/net reads "net:[inode]"; the inode names the namespace.
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
