using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets;

/// <summary>
/// Per-packet kernel transmit timestamps on Linux (SO_TIMESTAMPING, software, keyed per packet with
/// SCM_TS_OPT_ID). One sendmmsg sends up to 64 probes, and on loopback or a veth the kernel runs each
/// packet's whole round trip inside that call, one after the other: a single stamp taken before the call
/// made the 64th probe read about 0.35 ms instead of 0.005. The kernel stamps each packet as its driver
/// transmits it, and queues the stamp on the sending socket's error queue before the packet can be
/// answered; the receive loop drains those queues before it hands over the answers it read, so every RTT
/// starts at the wire. A packet whose stamp does not come (the queue overflowed, an older kernel) keeps
/// the user-space stamp taken before its system call.
/// </summary>
internal sealed unsafe class TransmitTimestamps : IDisposable
{
    private const int Capacity = 64;
    private const int ControlSize = 160;
    /// <summary>Room on a send-only socket's error queue: each stamp is charged about 850 bytes, and a full queue drops stamps silently.</summary>
    private const int ErrorQueueBytes = 8 * 1024 * 1024;

    private readonly LibC.MMsgHdr* _messages;
    private readonly LibC.IoVec* _iov;
    private readonly byte* _control;
    private readonly byte* _data;
    private long _outstanding;

    public TransmitTimestamps()
    {
        _messages = (LibC.MMsgHdr*)NativeMemory.AllocZeroed((nuint)(Capacity * sizeof(LibC.MMsgHdr)));
        _iov = (LibC.IoVec*)NativeMemory.AllocZeroed((nuint)(Capacity * sizeof(LibC.IoVec)));
        _control = (byte*)NativeMemory.AllocZeroed(Capacity * ControlSize);
        _data = (byte*)NativeMemory.AllocZeroed(Capacity * 16);
        for (var i = 0; i < Capacity; i++)
        {
            _iov[i].Base = _data + (i * 16);
            _iov[i].Length = 16;
            _messages[i].Header.Iov = &_iov[i];
            _messages[i].Header.IovLength = 1;
            _messages[i].Header.Control = _control + (i * ControlSize);
        }
    }

    /// <summary>The room one packet's key takes in its send control block.</summary>
    public static int KeySpace => LibC.CmsgSpace(sizeof(uint));

    /// <summary>Asks the kernel to stamp every packet sent on <paramref name="fd"/>; false where it will not.</summary>
    public static bool Enable(int fd)
    {
        var flags = LibC.SOF_TIMESTAMPING_TX_SOFTWARE | LibC.SOF_TIMESTAMPING_SOFTWARE | LibC.SOF_TIMESTAMPING_OPT_ID
            | LibC.SOF_TIMESTAMPING_OPT_TSONLY;
        if (LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_TIMESTAMPING, &flags, sizeof(int)) != 0)
        {
            return false;
        }
        var bytes = ErrorQueueBytes;
        if (LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUFFORCE, &bytes, sizeof(int)) != 0)
        {
            _ = LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_RCVBUF, &bytes, sizeof(int));
        }
        return true;
    }

    /// <summary>
    /// Stops the kernel stamping packets sent on <paramref name="fd"/>: without keys the stamps cannot be told
    /// apart, nobody drains them, and each would sit on the error queue until it is full.
    /// </summary>
    public static void Disable(int fd)
    {
        var flags = 0;
        _ = LibC.setsockopt(fd, LibC.SOL_SOCKET, LibC.SO_TIMESTAMPING, &flags, sizeof(int));
    }

    /// <summary>Writes the control message (SCM_TS_OPT_ID, or <paramref name="type"/>) that names the packet's stamp.</summary>
    public static int WriteKey(Span<byte> control, uint key, int type = LibC.SCM_TS_OPT_ID)
    {
        ref var header = ref MemoryMarshal.AsRef<LibC.CMsgHdr>(control);
        header.Length = (nuint)LibC.CmsgLen(sizeof(uint));
        header.Level = LibC.SOL_SOCKET;
        header.Type = type;
        BinaryPrimitives.WriteUInt32LittleEndian(control[LibC.CmsgAlign(sizeof(LibC.CMsgHdr))..], key);
        return KeySpace;
    }

    /// <summary>Packets sent with a key whose stamp has not been read yet (some never come: then this stays above zero).</summary>
    public void Sent(int packets) => Interlocked.Add(ref _outstanding, packets);

    public bool AnyOutstanding => Interlocked.Read(ref _outstanding) > 0;

    // Per-probe path: compiled fully optimised at its first call (see ProbeScheduler), not tier-0 and instrumented through a first sweep.
    /// <summary>Reads every stamp queued on <paramref name="fd"/> and hands each to the sink. Receive thread only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Drain(int fd, IcmpFamily family, IMessageSink sink)
    {
        while (true)
        {
            for (var i = 0; i < Capacity; i++)
            {
                _messages[i].Header.ControlLength = ControlSize;
                _messages[i].Header.Flags = 0;
                _messages[i].Header.NameLength = 0;
                _messages[i].Header.Name = null;
            }
            var n = LibC.recvmmsg(fd, _messages, Capacity, LibC.MSG_ERRQUEUE | LibC.MSG_DONTWAIT, null);
            if (n <= 0)
            {
                return;
            }
            Interlocked.Add(ref _outstanding, -n);
            for (var i = 0; i < n; i++)
            {
                ref var header = ref _messages[i].Header;
                if (TryRead(new ReadOnlySpan<byte>(header.Control, (int)header.ControlLength), family, out var key, out var ns))
                {
                    sink.OnSendTimestamp(key, ns);
                }
            }
            if (n < Capacity)
            {
                return;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryRead(ReadOnlySpan<byte> control, IcmpFamily family, out uint key, out long realtimeNs)
    {
        key = 0;
        realtimeNs = 0;
        var haveStamp = false;
        var haveKey = false;
        var headerSize = LibC.CmsgAlign(sizeof(LibC.CMsgHdr));
        var errorLevel = family == IcmpFamily.IPv4 ? LibC.IPPROTO_IP : LibC.IPPROTO_IPV6;
        var errorType = family == IcmpFamily.IPv4 ? LibC.IP_RECVERR : LibC.IPV6_RECVERR;
        while (control.Length >= headerSize)
        {
            var cmsg = MemoryMarshal.Read<LibC.CMsgHdr>(control);
            var length = (int)cmsg.Length;
            if (length < headerSize || length > control.Length)
            {
                break;
            }
            var data = control[headerSize..length];
            if (cmsg.Level == LibC.SOL_SOCKET && cmsg.Type == LibC.SCM_TIMESTAMPING && data.Length >= 16)
            {
                // struct scm_timestamping: the software stamp is ts[0].
                var ts = MemoryMarshal.Read<LibC.TimeSpec>(data);
                realtimeNs = (ts.Seconds * 1_000_000_000L) + ts.Nanoseconds;
                haveStamp = realtimeNs != 0;
            }
            // A packet socket (the Ethernet send path) reports its stamps at its own level.
            else if (((cmsg.Level == errorLevel && cmsg.Type == errorType) || (cmsg.Level == LibC.SOL_PACKET && cmsg.Type == LibC.PACKET_TX_TIMESTAMP))
                && data.Length >= sizeof(LibC.SockExtendedErr))
            {
                var error = MemoryMarshal.Read<LibC.SockExtendedErr>(data);
                if (error.Origin == LibC.SO_EE_ORIGIN_TIMESTAMPING && error.Info == LibC.SCM_TSTAMP_SND)
                {
                    key = error.Data;
                    haveKey = true;
                }
            }
            var advance = LibC.CmsgAlign(length);
            if (advance >= control.Length)
            {
                break;
            }
            control = control[advance..];
        }
        return haveStamp && haveKey;
    }

    public void Dispose()
    {
        NativeMemory.Free(_messages);
        NativeMemory.Free(_iov);
        NativeMemory.Free(_control);
        NativeMemory.Free(_data);
    }
}
