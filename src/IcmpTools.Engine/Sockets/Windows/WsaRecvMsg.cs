using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace IcmpTools.Engine.Sockets.Windows;

/// <summary>
/// Receives with WSARecvMsg, the one Winsock call that hands out control messages (Microsoft: the IPv6 hop limit
/// of a datagram comes only through it). It is an extension function: its address comes from WSAIoctl
/// SIO_GET_EXTENSION_FUNCTION_POINTER with WSAID_WSARECVMSG, asked of the socket it will serve, as
/// dotnet/runtime's DynamicWinsockMethods asks for it.
/// </summary>
/// <remarks>
/// Synchronous: called without an OVERLAPPED on a non-blocking socket, on the one thread that reads the socket, so
/// one name buffer and one control buffer (pinned for the socket's life) serve every call. An empty socket answers
/// WSAEWOULDBLOCK (Microsoft: WSARecvMsg on a non-blocking socket with no data queued), which
/// <see cref="TryReceive"/> reports as false.
/// </remarks>
[SupportedOSPlatform("windows")]
internal sealed unsafe class WsaRecvMsg
{
    /// <summary>SIO_GET_EXTENSION_FUNCTION_POINTER: _WSAIORW(IOC_WS2, 6) (mswsock.h / ws2def.h).</summary>
    private const int GetExtensionFunctionPointer = unchecked((int)0xC8000006);
    /// <summary>WSAID_WSARECVMSG (mswsock.h).</summary>
    private static readonly Guid WsaRecvMsgId = new("f689d7c8-6f1f-436b-8a53-e54fe351c322");

    private readonly Socket _socket;
    private readonly delegate* unmanaged<nint, WsaMsg*, int*, void*, nint, int> _receive;
    private readonly byte[] _name = GC.AllocateArray<byte>(WinsockMessage.NameSize, pinned: true);
    private readonly byte[] _control = GC.AllocateArray<byte>(WinsockMessage.ControlSize, pinned: true);

    /// <exception cref="SocketException">The socket's provider has no WSARecvMsg.</exception>
    public WsaRecvMsg(Socket socket)
    {
        _socket = socket;
        var pointer = new byte[sizeof(nint)];
        // Guid.ToByteArray is the GUID structure's memory layout, which WSAIoctl reads.
        socket.IOControl(GetExtensionFunctionPointer, WsaRecvMsgId.ToByteArray(), pointer);
        _receive = (delegate* unmanaged<nint, WsaMsg*, int*, void*, nint, int>)MemoryMarshal.Read<nint>(pointer);
        if (_receive == null)
        {
            throw new SocketException((int)SocketError.OperationNotSupported);
        }
    }

    /// <summary>Reads one datagram into <paramref name="buffer"/> (pinned), if one is queued.</summary>
    /// <param name="length">The datagram's length in the buffer; 0 when none was queued.</param>
    /// <param name="name">The sender's SOCKADDR, as long as WSARecvMsg wrote it.</param>
    /// <param name="control">The control messages, as long as WSARecvMsg wrote them.</param>
    /// <returns>False when the socket is non-blocking and had nothing queued (a blocking one waits instead).</returns>
    /// <exception cref="SocketException">WSARecvMsg failed (the socket's error).</exception>
    public bool TryReceive(byte[] buffer, out int length, out ReadOnlySpan<byte> name, out ReadOnlySpan<byte> control)
    {
        var added = false;
        try
        {
            _socket.SafeHandle.DangerousAddRef(ref added);
            fixed (byte* data = buffer)
            fixed (byte* nameBuffer = _name)
            fixed (byte* controlBuffer = _control)
            {
                var dataBuffer = new WsaBuf { Length = (uint)buffer.Length, Buffer = data };
                var message = new WsaMsg
                {
                    Name = nameBuffer,
                    NameLength = _name.Length,
                    Buffers = &dataBuffer,
                    BufferCount = 1,
                    Control = new WsaBuf { Length = (uint)_control.Length, Buffer = controlBuffer },
                };
                int received;
                var result = _receive(_socket.SafeHandle.DangerousGetHandle(), &message, &received, null, 0);
                // WSAGetLastError is the thread's last error; read it before anything else can set it.
                var error = Marshal.GetLastSystemError();
                if (result != 0)
                {
                    // WSAEWOULDBLOCK: a non-blocking socket has nothing queued.
                    if (error == (int)SocketError.WouldBlock)
                    {
                        length = 0;
                        name = default;
                        control = default;
                        return false;
                    }
                    throw new SocketException(error);
                }
                name = _name.AsSpan(0, Math.Clamp(message.NameLength, 0, _name.Length));
                control = _control.AsSpan(0, (int)Math.Min(message.Control.Length, (uint)_control.Length));
                length = received;
                return true;
            }
        }
        finally
        {
            if (added)
            {
                _socket.SafeHandle.DangerousRelease();
            }
        }
    }
}
