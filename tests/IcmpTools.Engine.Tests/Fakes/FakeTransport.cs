using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;
using Microsoft.Extensions.Time.Testing;

namespace IcmpTools.Engine.Tests.Fakes;

/// <summary>An echo request as the fake network saw it leave.</summary>
/// <param name="Sum">The ICMP message's one's-complement sum with the checksum field zero: what a flow-stable probe holds.</param>
public sealed record SentEcho(IPAddress Destination, ushort Identifier, ushort Sequence, byte[] Payload, int Ttl, ushort Checksum, ushort Sum,
    TimeSpan SentAt);

/// <summary>What the fake network delivers back for one request, and after how long.</summary>
public sealed record Delivery(TimeSpan Delay, byte[] Datagram, IPAddress Source);

/// <summary>
/// A network in a box for the prober, on virtual time: every echo request is handed to <see cref="Network"/>,
/// which decides what comes back (nothing, a reply, two replies, an error, a forgery) and after what delay
/// on <see cref="Clock"/>. Datagrams are framed as a Linux raw socket gives them (IPv4 with its header,
/// ICMPv6 without), and read through the transports' own framing code, so the real parsing path runs.
/// A delivery's arrival time is its virtual due time, whenever the receive loop gets to read it.
/// </summary>
public sealed class FakeTransport : IIcmpTransport
{
    private readonly object _gate = new();
    private readonly PriorityQueue<Delivery, (long Due, long Order)> _queue = new();
    private readonly List<SentEcho> _sent = new();
    private readonly ReceiveBatchBuffer _buffer = new();
    private long _order;
    private bool _woken;
    private bool _disposed;
    /// <summary>
    /// The receive loop is asleep in <see cref="Receive"/> with nothing due and nothing to wake it: it has
    /// handled everything the clock's last move made due. True before any receive loop runs.
    /// </summary>
    private bool _receiverIdle = true;

    /// <summary>Every fake on a clock, so <see cref="VirtualTime"/> can tell when all of them have caught up with it.</summary>
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<FakeTimeProvider, List<FakeTransport>> OnClock = new();

    public FakeTransport(Func<SentEcho, IEnumerable<Delivery>>? network = null, IcmpFamily family = IcmpFamily.IPv4,
        FakeTimeProvider? clock = null)
    {
        Family = family;
        Clock = clock ?? new FakeTimeProvider(DateTimeOffset.UnixEpoch.AddYears(56));
        Network = network ?? (echo => [Reply(echo, TimeSpan.FromMilliseconds(1))]);
        var fakes = OnClock.GetOrCreateValue(Clock);
        lock (fakes)
        {
            fakes.Add(this);
        }
    }

    /// <summary>Whether the receive loop of every fake on <paramref name="clock"/> sleeps with nothing left to do now.</summary>
    public static bool AllIdle(FakeTimeProvider clock)
    {
        if (!OnClock.TryGetValue(clock, out var fakes))
        {
            return true;
        }
        lock (fakes)
        {
            foreach (var fake in fakes)
            {
                lock (fake._gate)
                {
                    if (!fake._disposed && !fake._receiverIdle)
                    {
                        return false;
                    }
                }
            }
        }
        return true;
    }

    /// <summary>The virtual clock: give it to the prober, and advance it (or use <see cref="VirtualTime"/>) to let time pass.</summary>
    public FakeTimeProvider Clock { get; }

    public Func<SentEcho, IEnumerable<Delivery>> Network { get; set; }

    /// <summary>errno to fail sends to a destination with (e.g. 101, ENETUNREACH).</summary>
    public Func<IPAddress, int> SendError { get; set; } = _ => 0;

    /// <summary>Thrown from Send when set: a socket that broke.</summary>
    public Exception? SendException { get; set; }

    /// <summary>Thrown from Receive when set: a receive loop that meets a failure.</summary>
    public Exception? ReceiveException { get; set; }

    /// <summary>How many messages one Receive hands over at most (the real transport reads 64).</summary>
    public int ReceiveCapacity { get; set; } = 16;

    public IcmpFamily Family { get; }
    public SocketKind Kind => SocketKind.Raw;
    public int? KernelIdentifier => null;
    /// <summary>What the fake claims to do: a test sets less to play a request/response transport (iphlpapi).</summary>
    public TransportCapabilities Capabilities { get; set; } = TransportCapabilities.Full;
    public bool MoreQueued { get; private set; }

    /// <summary>Sends the transport took so far; <see cref="WaitForSent"/> waits for a count.</summary>
    public int SentCount
    {
        get
        {
            lock (_gate)
            {
                return _sent.Count;
            }
        }
    }

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

    /// <summary>Blocks (real time, generously bounded) until at least <paramref name="count"/> requests were sent.</summary>
    public void WaitForSent(int count, TimeSpan? limit = null)
    {
        var until = DateTime.UtcNow + (limit ?? TimeSpan.FromSeconds(30));
        lock (_gate)
        {
            while (_sent.Count < count)
            {
                if (DateTime.UtcNow > until)
                {
                    throw new TimeoutException($"Only {_sent.Count} of {count} requests were sent.");
                }
                Monitor.Wait(_gate, 50);
            }
        }
    }

    private long Now => Clock.GetTimestamp();

    private long TicksOf(TimeSpan span) => (long)(span.TotalSeconds * Clock.TimestampFrequency);

    public void Send(SendBatch batch)
    {
        if (SendException is { } failure)
        {
            throw failure;
        }
        batch.Stamp(0, batch.Count);
        for (var i = 0; i < batch.Count; i++)
        {
            ref var packet = ref batch.Packets[i];
            // The packet leaves at its own stamp: the clock may have moved on since (the test advances it on
            // another thread), and a delay measured from later would lengthen the RTT by how slow we were.
            var now = packet.SentTimestamp;
            var bytes = batch.PacketSpan(i);
            var destination = packet.Destination.ToAddress(Family);
            packet.Error = SendError(destination);
            if (packet.Error != 0)
            {
                continue;
            }
            var sum = (ushort)~InternetChecksum.Compute(WithZeroChecksum(bytes));
            var echo = new SentEcho(destination, BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]),
                BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]), bytes[8..].ToArray(), packet.Ttl,
                BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]), sum, Clock.GetElapsedTime(0, now));
            lock (_gate)
            {
                _sent.Add(echo);
                foreach (var delivery in Network(echo))
                {
                    _queue.Enqueue(delivery, (now + TicksOf(delivery.Delay), _order++));
                }
                _receiverIdle = false;
                Monitor.PulseAll(_gate);
            }
        }
    }

    private static byte[] WithZeroChecksum(ReadOnlySpan<byte> message)
    {
        var copy = message.ToArray();
        copy[2] = 0;
        copy[3] = 0;
        return copy;
    }

    public int Receive(int timeoutMilliseconds, IMessageSink sink)
    {
        if (ReceiveException is { } failure)
        {
            throw failure;
        }
        var taken = new List<(Delivery Delivery, long Due)>();
        lock (_gate)
        {
            var deadline = timeoutMilliseconds < 0 ? long.MaxValue : Now + TicksOf(TimeSpan.FromMilliseconds(timeoutMilliseconds));
            while (!_disposed && !_woken)
            {
                var now = Now;
                if (_queue.TryPeek(out _, out var head) && head.Due <= now)
                {
                    break;
                }
                var until = Math.Min(deadline, _queue.TryPeek(out _, out head) ? head.Due : long.MaxValue);
                if (until <= now)
                {
                    _receiverIdle = false;
                    return 0;
                }
                // Virtual time passes only when the test advances the clock: a timer on that clock wakes us.
                using var timer = until == long.MaxValue
                    ? null
                    : Clock.CreateTimer(_ => Pulse(), null, Clock.GetElapsedTime(now, until), Timeout.InfiniteTimeSpan);
                _receiverIdle = true;
                Monitor.Wait(_gate, 100);
            }
            _receiverIdle = false;
            _woken = false;
            while (taken.Count < ReceiveCapacity && _queue.TryPeek(out var delivery, out var key) && key.Due <= Now)
            {
                _queue.Dequeue();
                taken.Add((delivery, key.Due));
            }
            MoreQueued = _queue.TryPeek(out _, out var next) && next.Due <= Now;
        }
        foreach (var (delivery, due) in taken)
        {
            var data = _buffer.Hold(delivery.Datagram);
            if (RawFraming.TryRead(Family, data, delivery.Datagram.Length, IpKey.FromAddress(delivery.Source),
                    Family == IcmpFamily.IPv6 ? 64 : -1, 0, due, out var message, out var payload))
            {
                sink.OnMessage(in message, payload);
            }
        }
        return taken.Count;
    }

    private void Pulse()
    {
        lock (_gate)
        {
            _receiverIdle = false;
            Monitor.PulseAll(_gate);
        }
    }

    public void Wake()
    {
        lock (_gate)
        {
            _woken = true;
            _receiverIdle = false;
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
        var v6 = echo.Destination.AddressFamily == AddressFamily.InterNetworkV6;
        var icmp = new byte[8 + echo.Payload.Length];
        icmp[0] = v6 ? IcmpTypes.V6EchoReply : IcmpTypes.V4EchoReply;
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(4), echo.Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(6), echo.Sequence);
        echo.Payload.CopyTo(icmp, 8);
        tamper?.Invoke(icmp);
        var source = from ?? echo.Destination;
        return new Delivery(delay, Frame(source, Client(echo), 57, icmp), source);
    }

    /// <summary>An ICMP error from a router (Time Exceeded: type 11 / ICMPv6 3), quoting the request as Linux does.</summary>
    public static Delivery Error(SentEcho echo, TimeSpan delay, IPAddress router, byte type, byte code, int quotedIcmpBytes = int.MaxValue,
        byte quotedTtl = 1)
    {
        var v6 = echo.Destination.AddressFamily == AddressFamily.InterNetworkV6;
        var request = new byte[8 + echo.Payload.Length];
        request[0] = v6 ? IcmpTypes.V6EchoRequest : IcmpTypes.V4EchoRequest;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), echo.Identifier);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), echo.Sequence);
        echo.Payload.CopyTo(request, 8);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), echo.Checksum);
        var original = v6 ? IPv6Header(Client(echo), echo.Destination, quotedTtl, request) : IPv4(Client(echo), echo.Destination, quotedTtl, request);
        var header = v6 ? 40 : 20;
        var quoted = original.AsSpan(0, (int)Math.Min(original.Length, (long)header + quotedIcmpBytes)).ToArray();
        var icmp = new byte[8 + quoted.Length];
        icmp[0] = type;
        icmp[1] = code;
        quoted.CopyTo(icmp, 8);
        return new Delivery(delay, Frame(router, Client(echo), 64, icmp), router);
    }

    private static IPAddress Client(SentEcho echo) =>
        echo.Destination.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.Parse("2001:db8::1") : IPAddress.Parse("192.0.2.1");

    /// <summary>What a raw socket of the family reads: IPv4 with its header and checksums, ICMPv6 bare (the kernel checked it).</summary>
    private static byte[] Frame(IPAddress source, IPAddress destination, byte ttl, byte[] icmp)
    {
        if (source.AddressFamily == AddressFamily.InterNetworkV6)
        {
            return icmp;
        }
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), 0);
        BinaryPrimitives.WriteUInt16BigEndian(icmp.AsSpan(2), InternetChecksum.Compute(icmp));
        return IPv4(source, destination, ttl, icmp);
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

    private static byte[] IPv6Header(IPAddress source, IPAddress destination, byte hopLimit, byte[] icmp)
    {
        var datagram = new byte[40 + icmp.Length];
        datagram[0] = 0x60;
        BinaryPrimitives.WriteUInt16BigEndian(datagram.AsSpan(4), (ushort)icmp.Length);
        datagram[6] = 58;
        datagram[7] = hopLimit;
        source.TryWriteBytes(datagram.AsSpan(8, 16), out _);
        destination.TryWriteBytes(datagram.AsSpan(24, 16), out _);
        icmp.CopyTo(datagram, 40);
        return datagram;
    }

    /// <summary>Keeps the bytes handed to the parser alive for the sink call, as the real transport's receive buffer does.</summary>
    private sealed class ReceiveBatchBuffer
    {
        private byte[] _bytes = new byte[2048];

        public ReadOnlySpan<byte> Hold(byte[] datagram)
        {
            if (datagram.Length > _bytes.Length)
            {
                _bytes = new byte[datagram.Length];
            }
            datagram.CopyTo(_bytes, 0);
            return _bytes.AsSpan(0, datagram.Length);
        }
    }
}

/// <summary>
/// Lets virtual time pass while an operation runs: advances the clock a step at a time, and between steps
/// waits until the engine has caught up with the clock (every fake's receive loop asleep with nothing due,
/// no work queued on the thread pool), never a fixed real-time pause. So virtual time runs as fast as the
/// machine allows on an idle machine, and a loaded machine only makes each step wait longer: the outcome
/// depends on virtual time alone. The real-time limit only stops a hung test.
/// </summary>
public static class VirtualTime
{
    /// <summary>How long one settle waits at most for a machine busy with other work (other tests' pool items).</summary>
    private static readonly TimeSpan SettleLimit = TimeSpan.FromMilliseconds(200);

    public static async Task<T> Run<T>(FakeTimeProvider clock, Task<T> operation, TimeSpan? step = null, TimeSpan? realLimit = null)
    {
        await Run(clock, (Task)operation, step, realLimit);
        return await operation;
    }

    public static async Task Run(FakeTimeProvider clock, Task operation, TimeSpan? step = null, TimeSpan? realLimit = null)
    {
        var limit = realLimit ?? TimeSpan.FromSeconds(60);
        var until = DateTime.UtcNow + limit;
        var advance = step ?? TimeSpan.FromMilliseconds(1);
        while (!operation.IsCompleted)
        {
            if (DateTime.UtcNow > until)
            {
                throw new TimeoutException($"The operation did not finish within {limit} of real time (virtual now {clock.GetUtcNow():O}).");
            }
            await Settle(clock, operation);
            if (!operation.IsCompleted)
            {
                clock.Advance(advance);
            }
        }
        await operation;
    }

    /// <summary>
    /// Advances the clock by <paramref name="span"/> in <paramref name="step"/>s, letting the engine catch up
    /// after each: what a test does before asserting that nothing happened in that time.
    /// </summary>
    public static async Task Pass(FakeTimeProvider clock, TimeSpan span, TimeSpan step)
    {
        for (var passed = TimeSpan.Zero; passed < span; passed += step)
        {
            clock.Advance(step);
            await Settle(clock);
        }
    }

    /// <summary>
    /// Waits until the engine has done everything the clock's position makes due: the fakes' receive loops
    /// (which fire deadlines) asleep and the thread pool's queue empty, seen twice in a row across a yield so
    /// a continuation that was running has had its turn. Returns early when <paramref name="operation"/> ends.
    /// </summary>
    public static async Task Settle(FakeTimeProvider clock, Task? operation = null)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var quiet = 0;
        while (quiet < 2 && started.Elapsed < SettleLimit && operation?.IsCompleted != true)
        {
            if (FakeTransport.AllIdle(clock) && ThreadPool.PendingWorkItemCount == 0)
            {
                quiet++;
                await Task.Yield();
            }
            else
            {
                // Someone is still working, maybe on this very core: step aside rather than spin against it.
                quiet = 0;
                await Task.Delay(1);
            }
        }
    }
}
