using System.Runtime.InteropServices;
using IcmpTools.Engine.Errors;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// A reference held on a descriptor's SafeHandle for the length of one system call. While it is held the
/// descriptor cannot be closed (and its number reused by another socket or file); once the owner is
/// disposed, taking one fails with <see cref="SocketUnavailableException"/> instead of touching a stranger's descriptor.
/// </summary>
internal readonly ref struct SocketHold
{
    private readonly SafeHandle _handle;

    private SocketHold(SafeHandle handle, int fd)
    {
        _handle = handle;
        Fd = fd;
    }

    public int Fd { get; }

    public static SocketHold Take(SafeHandle handle, object owner)
    {
        var added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException e)
        {
            throw new SocketUnavailableException($"The {owner.GetType().Name} is closed.", e);
        }
        return new SocketHold(handle, (int)handle.DangerousGetHandle());
    }

    public void Dispose() => _handle.DangerousRelease();
}
