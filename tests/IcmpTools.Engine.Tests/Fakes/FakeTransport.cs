using System.Buffers.Binary;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;

namespace IcmpTools.Engine.Tests.Fakes;

/// <summary>An echo request as the fake network saw it leave.</summary>
public sealed record SentEcho(IPAddress Destination, ushort Identifier, ushort Sequence, byte[] Payload, int Ttl);

/// <summary>What the fake network delivers back for one request, and when.</summary>
public sealed record Delivery(TimeSpan Delay, byte[] Datagram, IPAddress Source);

/// <summary>
/// A network in a box for the prober: every echo request is handed to <see cref="Network"/>, which decides
/// what comes back (nothing, a reply, two replies, an error, a forgery) and after what delay. Datagrams are
/// IPv4 with their header, as a Linux raw socket gives them, so the prober's real parsing path runs.
/// </summary>
public sealed class FakeTransport : IIcmpTransport
{
    private readonly object _gate = new();
    private readonly PriorityQueue<Delivery, long> _queue = new();
    private readonly List<SentEcho> _sent = new();
    private bool _woken;
    private bool _disposed;

    public FakeTransport(Func<SentEcho, IEnumerable<Delivery>>? network = null)
    {
        Network = network ?? (echo => [Reply(echo, TimeSpan.FromMilliseconds(1))]);
    }

    public Func<SentEcho, IEnumerable<Delivery>> Network { get; set; }

    /// <summary>errno to fail sends to a destination with (e.g. 101, ENETUNREACH).</summary>
    public Func<IPAddress, int> SendError { get; set; } = _ => 0;

    public IcmpFamily Family => IcmpFamily.IPv4;
    public bool IncludesIpHeader => true;
    public bool RewritesIdentifier => false;
    public ReceiveBatch ReceiveBatch { get; } = new(16, 2048);

    public IReadOnlyList<SentEcho> Sent
    {
        get
        {
            lock (_gate)
            {
                return _sent.ToArray();
            }
        }
    }

    public void Send(SendBatch batch)
    {
        batch.Stamp();
        var now = Environment.TickCount64;
        for (var i = 0; i < batch.Count; i++)
        {
            ref var packet = ref batch.Packets[i];
            var bytes = batch.PacketSpan(i);
            var destination = packet.Destination.ToAddress(IcmpFamily.IPv4);
            packet.Error = SendError(destination);
            if (packet.Error != 0)
            {
                continue;
            }
            var echo = new SentEcho(destination, BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]),
                BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]), bytes[8..].ToArray(), packet.Ttl);
            lock (_gate)
            {
                _sent.Add(echo);
                foreach (var delivery in Network(echo))
                {
                    _queue.Enqueue(delivery, now + (long)delivery.Delay.TotalMilliseconds);
                }
                Monitor.PulseAll(_gate);
            }
        }
    }

    public int Receive(int timeoutMilliseconds)
    {
        lock (_gate)
        {
            var deadline = timeoutMilliseconds < 0 ? long.MaxValue : Environment.TickCount64 + timeoutMilliseconds;
            while (!_disposed && !_woken)
            {
                var now = Environment.TickCount64;
                if (_queue.TryPeek(out _, out var due) && due <= now)
                {
                    break;
                }
                var until = Math.Min(deadline, _queue.TryPeek(out _, out due) ? due : long.MaxValue);
                if (until <= now)
                {
                    return 0;
                }
                Monitor.Wait(_gate, (int)Math.Min(int.MaxValue, until - now));
            }
            _woken = false;
            var count = 0;
            while (count < ReceiveBatch.Capacity && _queue.TryPeek(out var delivery, out var dueAt) && dueAt <= Environment.TickCount64)
            {
                _queue.Dequeue();
                delivery.Datagram.CopyTo(ReceiveBatch.Slot(count));
                ref var packet = ref ReceiveBatch.Packets[count];
                packet.Length = delivery.Datagram.Length;
                packet.FullLength = delivery.Datagram.Length;
                packet.Source = IpKey.FromAddress(delivery.Source);
                packet.KernelRealtimeNs = 0;
                packet.HopLimit = -1;
                count++;
            }
            ReceiveBatch.ReceivedTimestamp = System.Diagnostics.Stopwatch.GetTimestamp();
            return count;
        }
    }

    public void Wake()
    {
        lock (_gate)
        {
            _woken = true;
            Monitor.PulseAll(_gate);
        }
    }

    public void Dispose()
    {
        lock (_gate)
        {
            _disposed = true;
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>The echo reply the target would send.</summary>
    public static Delivery Reply(SentEcho echo, TimeSpan delay, IPAddress? from = null, Action<byte[]>? tamper = null)
    {
        var icmp = new byte[8 + echo.Payload.Length];
        icmp[0] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), echo.Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), echo.Sequence);
        echo.Payload.CopyTo(icmp, 8);
        tamper?.Invoke(icmp);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), InternetChecksum.Compute(icmp));
        var source = from ?? echo.Destination;
        return new Delivery(delay, IPv4(source, IPAddress.Parse("192.0.2.1"), 57, icmp), source);
    }

    /// <summary>An ICMP error (e.g. Time Exceeded, type 11) from a router, quoting the request as Linux does.</summary>
    public static Delivery Error(SentEcho echo, TimeSpan delay, IPAddress router, byte type, byte code, int quotedIcmpBytes = int.MaxValue)
    {
        var request = new byte[8 + echo.Payload.Length];
        request[0] = 8;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), echo.Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), echo.Sequence);
        echo.Payload.CopyTo(request, 8);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), InternetChecksum.Compute(request));
        var original = IPv4(IPAddress.Parse("192.0.2.1"), echo.Destination, 1, request);
        var quoted = original.AsSpan(0, (int)Math.Min(original.Length, 20L + quotedIcmpBytes)).ToArray();
        var icmp = new byte[8 + quoted.Length];
        icmp[0] = type;
        icmp[1] = code;
        quoted.CopyTo(icmp, 8);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), InternetChecksum.Compute(icmp));
        return new Delivery(delay, IPv4(router, IPAddress.Parse("192.0.2.1"), 64, icmp), router);
    }

    private static byte[] IPv4(IPAddress source, IPAddress destination, byte ttl, byte[] icmp)
    {
        var datagram = new byte[20 + icmp.Length];
        datagram[0] = 0x45;
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(2), (ushort)datagram.Length);
        datagram[8] = ttl;
        datagram[9] = 1;
        source.TryWriteBytes(datagram.AsSpan(12, 4), out _);
        destination.TryWriteBytes(datagram.AsSpan(16, 4), out _);
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(10), InternetChecksum.Compute(datagram.AsSpan(0, 20)));
        icmp.CopyTo(datagram, 20);
        return datagram;
    }
}
