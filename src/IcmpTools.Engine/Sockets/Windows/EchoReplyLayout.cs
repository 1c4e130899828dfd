using System.Buffers.Binary;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;

namespace IcmpTools.Engine.Sockets.Windows;

/// <summary>One reply structure as iphlpapi left it in the reply buffer, before it means anything.</summary>
internal readonly ref struct EchoReplyRecord
{
    public EchoReplyRecord(uint status, IpKey address, uint roundTripMilliseconds, int ttl, ReadOnlySpan<byte> data)
    {
        Status = status;
        Address = address;
        RoundTripMilliseconds = roundTripMilliseconds;
        Ttl = ttl;
        Data = data;
    }

    public uint Status { get; }
    /// <summary>The target for a reply, the router or host that sent the error otherwise.</summary>
    public IpKey Address { get; }
    /// <summary>iphlpapi's own RTT, whole milliseconds: only a bound on the Stopwatch measure.</summary>
    public uint RoundTripMilliseconds { get; }
    /// <summary>The reply's TTL (ICMP_ECHO_REPLY.Options.Ttl); -1 for IPv6, whose reply has no options.</summary>
    public int Ttl { get; }
    /// <summary>The echoed payload.</summary>
    public ReadOnlySpan<byte> Data { get; }
}

/// <summary>
/// Reads the reply buffer of <c>IcmpSendEcho2Ex</c> / <c>Icmp6SendEcho2</c> as Microsoft documents it for a
/// 64-bit process, from bytes, so the layout is tested on any platform with recorded buffers.
/// </summary>
/// <remarks>
/// <para>ICMP_ECHO_REPLY (x64, 40 bytes): Address (IPAddr, network order) @0, Status @4, RoundTripTime @8,
/// DataSize (USHORT) @12, Reserved @14, Data (PVOID) @16, Options (IP_OPTION_INFORMATION: Ttl @24, Tos @25,
/// Flags @26, OptionsSize @27, OptionsData PUCHAR @32). Data points into the same buffer, after the structure.</para>
/// <para>ICMPV6_ECHO_REPLY (36 bytes): Address (IPV6_ADDRESS_EX, packed to 1 byte: sin6_port @0, sin6_flowinfo @2,
/// sin6_addr @6, sin6_scope_id @22, 26 bytes) then, aligned to 4, Status @28 and RoundTripTime @32. It has no
/// data pointer: the echoed data follows the structure at offset 36, as many bytes as were sent (dotnet/runtime's
/// Ping.Windows.cs reads it the same way).</para>
/// </remarks>
internal static class EchoReplyLayout
{
    public const int V4ReplySize = 40;
    public const int V6ReplySize = 36;

    /// <summary>
    /// Room a request's reply buffer needs: the structure, the echoed data, 8 bytes of an ICMP error message and
    /// an IO_STATUS_BLOCK (IcmpSendEcho2 documentation), with slack for the options a reply may carry.
    /// </summary>
    public static int ReplyBufferSize(int payloadLength) => V4ReplySize + payloadLength + 8 + 16 + 64;

    /// <summary>Reads an ICMP_ECHO_REPLY at the start of <paramref name="buffer"/>, which sits at native address <paramref name="bufferAddress"/>.</summary>
    /// <returns>False when the buffer is too short or the data pointer leaves the buffer.</returns>
    public static bool TryReadV4(ReadOnlySpan<byte> buffer, ulong bufferAddress, out EchoReplyRecord reply)
    {
        reply = default;
        if (buffer.Length < V4ReplySize)
        {
            return false;
        }
        var status = BinaryPrimitives.ReadUInt32LittleEndian(buffer[4..]);
        var rtt = BinaryPrimitives.ReadUInt32LittleEndian(buffer[8..]);
        var dataSize = BinaryPrimitives.ReadUInt16LittleEndian(buffer[12..]);
        var dataPointer = BinaryPrimitives.ReadUInt64LittleEndian(buffer[16..]);
        var data = ReadOnlySpan<byte>.Empty;
        if (dataSize > 0)
        {
            // The pointer is the API's, not ours: trust it only inside the buffer we gave it.
            if (dataPointer < bufferAddress || dataPointer - bufferAddress > (ulong)buffer.Length
                || (ulong)buffer.Length - (dataPointer - bufferAddress) < dataSize)
            {
                return false;
            }
            data = buffer.Slice((int)(dataPointer - bufferAddress), dataSize);
        }
        reply = new EchoReplyRecord(status, IpKey.FromV4(buffer[..4]), rtt, buffer[24], data);
        return true;
    }

    /// <summary>Reads an ICMPV6_ECHO_REPLY and the <paramref name="sentLength"/> echoed bytes after it.</summary>
    public static bool TryReadV6(ReadOnlySpan<byte> buffer, int sentLength, out EchoReplyRecord reply)
    {
        reply = default;
        if (buffer.Length < V6ReplySize)
        {
            return false;
        }
        var status = BinaryPrimitives.ReadUInt32LittleEndian(buffer[28..]);
        var rtt = BinaryPrimitives.ReadUInt32LittleEndian(buffer[32..]);
        var data = ReadOnlySpan<byte>.Empty;
        if (status == IpStatus.Success)
        {
            if (buffer.Length - V6ReplySize < sentLength)
            {
                return false;
            }
            data = buffer.Slice(V6ReplySize, sentLength);
        }
        reply = new EchoReplyRecord(status, IpKey.FromV6(buffer.Slice(6, 16)), rtt, -1, data);
        return true;
    }

    /// <summary>Reads the reply structure of <paramref name="family"/>.</summary>
    public static bool TryRead(IcmpFamily family, ReadOnlySpan<byte> buffer, ulong bufferAddress, int sentLength, out EchoReplyRecord reply) =>
        family == IcmpFamily.IPv4 ? TryReadV4(buffer, bufferAddress, out reply) : TryReadV6(buffer, sentLength, out reply);
}

/// <summary>What the transport remembers of a request it handed to iphlpapi, to turn its completion into a message.</summary>
internal struct EchoRequestRecord
{
    public IpKey Destination;
    public ushort Identifier;
    public ushort Sequence;
    /// <summary>The batch clock's timestamp taken just before the API call.</summary>
    public long SentTimestamp;
}

/// <summary>What became of a completion.</summary>
internal enum EchoCompletionOutcome : byte
{
    /// <summary>A message for the prober.</summary>
    Message,
    /// <summary>No answer (IP_REQ_TIMED_OUT): the probe times out at the prober's own deadline.</summary>
    NoAnswer,
    /// <summary>
    /// An echo reply whose data is not what this request sent (another cookie, other bytes): iphlpapi matched it by
    /// the identifier and sequence Windows chose, which another process's request may share. Never an answer.
    /// </summary>
    Rejected,
    /// <summary>A reply buffer that does not hold what the API promises.</summary>
    Malformed,
}

/// <summary>Turns one completed iphlpapi request into the message every transport hands the prober.</summary>
internal static class EchoCompletion
{
    /// <param name="family">The request's family.</param>
    /// <param name="reply">The reply as read from the buffer.</param>
    /// <param name="request">What was sent.</param>
    /// <param name="sentPayload">The payload that was sent (the probe cookie first).</param>
    /// <param name="completedTimestamp">The clock's timestamp taken when the completion was seen.</param>
    /// <param name="frequency">The clock's ticks per second.</param>
    public static EchoCompletionOutcome Interpret(IcmpFamily family, in EchoReplyRecord reply, in EchoRequestRecord request,
        ReadOnlySpan<byte> sentPayload, long completedTimestamp, long frequency, out IcmpMessage message, out ReadOnlySpan<byte> echoedPayload)
    {
        message = default;
        echoedPayload = default;
        var kindClass = IpStatus.Classify(family, reply.Status, out var kind, out var type, out var code);
        if (kindClass == IpStatusClass.TimedOut)
        {
            return EchoCompletionOutcome.NoAnswer;
        }
        message.Kind = kind;
        message.Type = type;
        message.Code = code;
        message.Responder = reply.Address;
        // iphlpapi pairs answers with requests itself, so the probe is the request's whatever address answered.
        message.ProbedDestination = request.Destination;
        // Windows wrote its own identifier and sequence on the wire; the prober knows the probe by the ones it asked for.
        message.Identifier = request.Identifier;
        message.Sequence = request.Sequence;
        message.ReceivedTtl = -1;
        message.QuotedTtl = -1;
        message.Pointer = -1;
        message.ReceivedTimestamp = ArrivalTimestamp(request.SentTimestamp, completedTimestamp, reply.RoundTripMilliseconds, frequency);
        switch (kindClass)
        {
            case IpStatusClass.Reply:
                if (!reply.Data.SequenceEqual(sentPayload))
                {
                    return EchoCompletionOutcome.Rejected;
                }
                message.HasCookie = ProbeCookie.TryRead(reply.Data, out message.Cookie);
                message.ReceivedTtl = reply.Ttl;
                message.BytesReceived = EchoRequestWriter.HeaderSize + reply.Data.Length;
                echoedPayload = reply.Data;
                return EchoCompletionOutcome.Message;
            case IpStatusClass.LocalFailure:
                message.LocalError = (int)reply.Status;
                message.Responder = default;
                message.HasCookie = ProbeCookie.TryRead(sentPayload, out message.Cookie);
                return EchoCompletionOutcome.Message;
            default:
                // The error quotes nothing we can read, but it is the answer to this very request: its cookie is
                // the one sent, so the prober matches it exactly as a raw socket's quoted cookie.
                message.HasCookie = ProbeCookie.TryRead(sentPayload, out message.Cookie);
                message.BytesReceived = reply.Data.Length;
                return EchoCompletionOutcome.Message;
        }
    }

    /// <summary>
    /// When the answer arrived, on the prober's clock. The completion is seen by a thread-pool wait, which on a
    /// loaded machine may run late: iphlpapi's whole-millisecond RoundTripTime then bounds the Stopwatch measure
    /// (the answer cannot have taken more than RoundTripTime + 1 ms), so a late wake never turns into a long RTT
    /// or a timeout; otherwise the microsecond Stopwatch measure stands.
    /// </summary>
    public static long ArrivalTimestamp(long sentTimestamp, long completedTimestamp, uint roundTripMilliseconds, long frequency)
    {
        var measured = Math.Max(0, completedTimestamp - sentTimestamp);
        var bound = (long)((roundTripMilliseconds + 1.0) * frequency / 1000.0);
        return sentTimestamp + Math.Min(measured, bound);
    }
}

/// <summary>The arguments iphlpapi takes, written as Microsoft documents them (pure, so tested on any platform).</summary>
internal static class IpHelperMarshal
{
    /// <summary>A request stays open this much longer than its probe waits, so the prober's deadline always comes first.</summary>
    public const int TimeoutSlackMilliseconds = 1000;

    public const int DefaultTimeoutMilliseconds = 5000;

    /// <summary>AF_INET6 as Windows numbers it (23; Linux says 10), for the sockaddr_in6 of Icmp6SendEcho2.</summary>
    public const ushort WindowsAfInet6 = 23;

    /// <summary>sizeof(sockaddr_in6).</summary>
    public const int SockaddrIn6Size = 28;

    /// <summary>The probe's wait plus slack, in whole milliseconds for the API.</summary>
    public static int TimeoutMilliseconds(long timeoutTicks, long frequency)
    {
        if (timeoutTicks <= 0)
        {
            return DefaultTimeoutMilliseconds;
        }
        var milliseconds = Math.Ceiling(timeoutTicks * 1000.0 / frequency) + TimeoutSlackMilliseconds;
        return (int)Math.Min(int.MaxValue / 2, milliseconds);
    }

    /// <summary>IPAddr: the four address bytes as they sit in memory, read as a little-endian ULONG.</summary>
    public static uint IPAddr(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32LittleEndian(bytes);
    }

    /// <summary>sockaddr_in6 as Windows lays it out: family 23 @0, port @2, flow info @4, address @8, scope id @24.</summary>
    public static void WriteSockaddrIn6(Span<byte> destination, IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        destination[..SockaddrIn6Size].Clear();
        BinaryPrimitives.WriteUInt16LittleEndian(destination, WindowsAfInet6);
        address.TryWriteBytes(destination.Slice(8, 16), out _);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[24..], (uint)address.ScopeId);
    }
}
