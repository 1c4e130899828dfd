using System.Buffers.Binary;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using Microsoft.Extensions.Time.Testing;

namespace IcmpTools.Fuzz;

/// <summary>A decoder run over untrusted bytes: it may refuse them, but never throw or break an invariant.</summary>
internal delegate void FuzzTarget(ReadOnlySpan<byte> input);

/// <summary>
/// Every place where bytes from the network enter the engine, each as a function of one input. A throw is
/// a finding: afl-fuzz (through SharpFuzz) records the input, and the input joins tests/IcmpTools.Fuzz/corpus
/// so FuzzCorpusTests replays it on every test run. The first input byte or two choose the variant (family,
/// framing) so one corpus covers them all.
/// </summary>
internal static class FuzzTargets
{
    public static readonly IReadOnlyDictionary<string, FuzzTarget> All = new Dictionary<string, FuzzTarget>
    {
        ["parser"] = Parser,
        ["raw"] = Raw,
        ["datagram"] = Datagram,
        ["errqueue"] = ErrorQueue,
        ["prober"] = ProberMessage,
    };

    /// <summary>Messages the prober target matched to a probe so far, as answers or duplicates (the corpus test checks matching is reached).</summary>
    public static int ProberAnswers => (s_answersV4?.Observer.Matched ?? 0) + (s_answersV6?.Observer.Matched ?? 0);

    private static Table? s_answersV4 => Table.Existing(IcmpFamily.IPv4);

    private static Table? s_answersV6 => Table.Existing(IcmpFamily.IPv6);

    private static IcmpFamily FamilyOf(byte selector) => (selector & 1) == 0 ? IcmpFamily.IPv4 : IcmpFamily.IPv6;

    /// <summary>IcmpParser: [selector: 0 IPv4 datagram, 1 IPv6 message, 2 IPv4 message without its IP header] bytes...</summary>
    public static void Parser(ReadOnlySpan<byte> input)
    {
        if (input.IsEmpty)
        {
            return;
        }
        var data = input[1..];
        IcmpParseResult parsed;
        var ok = (input[0] % 3) switch
        {
            0 => IcmpParser.TryParseV4(data, out parsed),
            1 => IcmpParser.TryParseV6(data, out parsed),
            _ => IcmpParser.TryParseV4Icmp(data, out parsed),
        };
        if (!ok)
        {
            return;
        }
        Check(parsed.IcmpLength >= 0 && parsed.IcmpLength <= data.Length, "IcmpLength outside the datagram");
        Check(parsed.PayloadOffset >= 0 && parsed.PayloadLength >= 0 && parsed.PayloadOffset + parsed.PayloadLength <= data.Length,
            "payload outside the datagram");
        Check(parsed.Ttl is >= -1 and <= 255, "TTL outside a byte");
        Check(parsed.QuotedTtl is >= -1 and <= 255, "quoted TTL outside a byte");
        Check(parsed.Mtu >= 0, "negative MTU");
    }

    /// <summary>The raw socket's framing: [family] [hop limit] [bytes cut from the datagram] datagram...</summary>
    public static void Raw(ReadOnlySpan<byte> input) => Framed(input, RawFraming.TryRead);

    /// <summary>The datagram socket's replies: [family] [TTL] [bytes cut] message...</summary>
    public static void Datagram(ReadOnlySpan<byte> input) => Framed(input, DatagramFraming.TryReadReply);

    /// <summary>The shape both framings share: what was read, how much of it the buffer kept, who sent it, its TTL.</summary>
    private delegate bool FramingReader(IcmpFamily family, ReadOnlySpan<byte> data, int fullLength, in IpKey source, int ttl,
        long kernelRealtimeNs, long receivedTimestamp, out IcmpMessage message, out ReadOnlySpan<byte> echoedPayload);

    private static void Framed(ReadOnlySpan<byte> input, FramingReader read)
    {
        if (input.Length < 3)
        {
            return;
        }
        var data = input[3..];
        var family = FamilyOf(input[0]);
        var source = family == IcmpFamily.IPv4 ? IpKey.FromV4([127, 0, 0, 1]) : IpKey.FromV6([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        var fullLength = data.Length + input[2];
        if (read(family, data, fullLength, source, input[1], 0, 1, out var message, out var payload))
        {
            CheckMessage(message, payload, fullLength);
        }
    }

    /// <summary>
    /// The datagram socket's error queue, as recvmsg(MSG_ERRQUEUE) hands it over: [family] [control length]
    /// control messages (cmsghdr chain) [address length] sockaddr, then the quoted request.
    /// </summary>
    public static void ErrorQueue(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2)
        {
            return;
        }
        var family = FamilyOf(input[0]);
        var rest = input[1..];
        var controlLength = Math.Min(rest[0], rest.Length - 1);
        var control = rest.Slice(1, controlLength);
        rest = rest[(1 + controlLength)..];
        var nameLength = rest.IsEmpty ? 0 : Math.Min(rest[0], rest.Length - 1);
        var name = rest.IsEmpty ? default : rest.Slice(1, nameLength);
        var request = rest.IsEmpty ? default : rest[(1 + nameLength)..];

        LinuxErrorQueue.ReadControl(control, out var error);
        if (!LinuxErrorQueue.TryReadSockAddr(name, out var probed))
        {
            probed = default;
        }
        if (DatagramFraming.TryReadError(family, request, error, probed, 1, out var message))
        {
            Check(message.Kind is IcmpKind.DestinationUnreachable or IcmpKind.TimeExceeded or IcmpKind.ParameterProblem or IcmpKind.PacketTooBig,
                "an error-queue entry decoded as something other than an ICMP error");
            Check(message.Mtu >= 0, "negative MTU");
        }
    }

    private static void CheckMessage(in IcmpMessage message, ReadOnlySpan<byte> payload, int fullLength)
    {
        Check(message.Kind is not (IcmpKind.EchoRequest or IcmpKind.Unknown), "a request or an unknown message read as an answer");
        Check(message.BytesReceived >= 0 && message.BytesReceived <= fullLength, "BytesReceived outside the datagram");
        Check(message.Kind == IcmpKind.EchoReply || payload.IsEmpty, "an error with an echoed payload");
        Check(message.Mtu >= 0, "negative MTU");
    }

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvalidOperationException(what);
        }
    }

    /// <summary>
    /// Prober.OnMessage over a table of real probes: [flags] [probe index] datagram (raw framing). Flag 1 stamps
    /// the chosen probe's identifier, sequence and cookie into the message (so the fuzzer reaches matching),
    /// flag 2 its destination, flag 4 makes the family IPv6. Whatever arrives, the table stays consistent:
    /// nothing throws, probes in flight never exceed those sent, and each probe completes at most once.
    /// </summary>
    public static void ProberMessage(ReadOnlySpan<byte> input)
    {
        if (input.Length < 2)
        {
            return;
        }
        var table = (input[0] & 4) == 0 ? Table.V4 : Table.V6;
        table.Refill();
        var data = input[2..];
        if (!RawFraming.TryRead(table.Family, data, data.Length, table.Destination, 64, 0, table.Clock.GetTimestamp(), out var message, out var payload))
        {
            return;
        }
        var echo = payload.ToArray();
        // One of the probes still pending (a completed one's slot may already carry another probe).
        var pending = table.Sent.Where(p => table.Observer.IsPending(p.Token)).ToList();
        if ((input[0] & 1) != 0 && pending.Count > 0)
        {
            var probe = pending[input[1] % pending.Count];
            message.Identifier = probe.Identifier;
            message.Sequence = probe.Sequence;
            message.HasCookie = true;
            message.Cookie = probe.Cookie;
            if (message.Kind == IcmpKind.EchoReply && echo.Length >= ProbeCookie.Size)
            {
                probe.Cookie.WriteTo(echo);
            }
        }
        if ((input[0] & 2) != 0)
        {
            message.ProbedDestination = table.Destination;
            message.Responder = message.Kind == IcmpKind.EchoReply ? table.Destination : message.Responder;
        }
        table.Prober.OnMessage(in message, echo);
        Check(table.Prober.InFlight <= Table.Size, "more probes in flight than were sent");
        Check(table.Observer.CompletedTwice == 0, "a probe completed twice, or one never sent");
    }

    /// <summary>A prober whose receive loop is parked (the fuzzer calls OnMessage itself), with probes to answer.</summary>
    private sealed class Table
    {
        public const int Size = 64;
        private static Table? s_v4;
        private static Table? s_v6;

        public static Table V4 => s_v4 ??= new Table(IcmpFamily.IPv4);

        public static Table V6 => s_v6 ??= new Table(IcmpFamily.IPv6);

        public static Table? Existing(IcmpFamily family) => family == IcmpFamily.IPv4 ? s_v4 : s_v6;

        private long _token;

        private Table(IcmpFamily family)
        {
            Family = family;
            Destination = family == IcmpFamily.IPv4 ? IpKey.FromV4([198, 18, 0, 9]) : IpKey.FromV6([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9]);
            // The prober owns the transport (and disposes it with itself); this table lives as long as the process.
            var transport = new ParkedTransport(family);
            Sent = transport.Sent;
            Prober = new Prober(transport, Clock);
        }

        public IcmpFamily Family { get; }

        public IpKey Destination { get; }

        /// <summary>Never advanced: no probe times out, so only messages change the table.</summary>
        public FakeTimeProvider Clock { get; } = new();

        public Prober Prober { get; }

        public CountingObserver Observer { get; } = new();

        public List<SentProbe> Sent { get; }

        /// <summary>Tops the table up to <see cref="Size"/> pending probes, half of them matched without a cookie too.</summary>
        public void Refill()
        {
            var missing = Size - Prober.InFlight;
            if (missing <= 0)
            {
                return;
            }
            var probes = new ProbeSpec[missing];
            for (var i = 0; i < missing; i++)
            {
                _token++;
                probes[i] = new ProbeSpec
                {
                    Destination = Destination,
                    Identifier = 4242,
                    Sequence = (ushort)_token,
                    PayloadSize = 56,
                    Ttl = 1 + (int)(_token % 30),
                    TimeoutTicks = Clock.TimestampFrequency,
                    Token = _token,
                    MatchWithoutCookie = (_token & 1) == 0,
                };
                Observer.Sending(_token);
            }
            var first = Sent.Count;
            Prober.Send(probes, Observer);
            // The transport saw them in order: give each its token.
            for (var i = 0; i < missing; i++)
            {
                Sent[first + i] = Sent[first + i] with { Token = probes[i].Token };
            }
            if (Sent.Count > 4 * Size)
            {
                Sent.RemoveRange(0, Sent.Count - Size);
            }
        }
    }

    internal readonly record struct SentProbe(ushort Identifier, ushort Sequence, ProbeCookie Cookie, long Token = 0);

    private sealed class CountingObserver : IProbeObserver
    {
        /// <summary>Tokens sent and not completed yet: bounded by the table, however long the fuzzer runs.</summary>
        private readonly HashSet<long> _pending = [];

        public int Duplicated { get; private set; }

        public int CompletedTwice { get; private set; }

        public int Completed { get; private set; }

        public int Matched => Completed + Duplicated;

        public bool IsPending(long token) => _pending.Contains(token);

        public void Sending(long token) => _pending.Add(token);

        public void OnProbeCompleted(in ProbeResult result)
        {
            Completed++;
            if (!_pending.Remove(result.Token))
            {
                CompletedTwice++;
            }
        }

        public void OnDuplicate(in ProbeResult result) => Duplicated++;
    }

    /// <summary>Takes sends without a network; its receive loop sleeps until the prober is disposed.</summary>
    private sealed class ParkedTransport(IcmpFamily family) : IIcmpTransport
    {
        private readonly ManualResetEventSlim _closed = new();

        public IcmpFamily Family => family;

        public SocketKind Kind => SocketKind.Raw;

        public int? KernelIdentifier => null;

        public bool MoreQueued => false;

        public List<SentProbe> Sent { get; } = [];

        public void Send(SendBatch batch)
        {
            batch.Stamp(0, batch.Count);
            for (var i = 0; i < batch.Count; i++)
            {
                var bytes = batch.PacketSpan(i);
                ProbeCookie.TryRead(bytes[8..], out var cookie);
                Sent.Add(new SentProbe(BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]), BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]), cookie));
            }
        }

        public int Receive(int timeoutMilliseconds, IMessageSink sink)
        {
            _closed.Wait();
            return 0;
        }

        public void Wake()
        {
        }

        public void Dispose() => _closed.Set();
    }
}
