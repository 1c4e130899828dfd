using System.Buffers.Binary;
using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using IcmpTools.Engine.Sockets.Windows;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets.Windows;

/// <summary>
/// The prober over a request/response transport shaped like iphlpapi, on any platform: each request completes with a
/// scripted IP_STATUS through the real reply-buffer reader and <see cref="EchoCompletion"/>, so what the Windows
/// transport hands the prober (no quoted bytes, the request's cookie for errors, LocalFailure) is matched as it must be.
/// </summary>
public sealed class RequestResponseProberTests
{
    private const ulong BufferAddress = 0x10_0000;

    /// <summary>Completes every request at once with the status the script gives its destination.</summary>
    private sealed class ScriptedIpHelper(Func<IPAddress, (uint Status, string Responder, bool WrongCookie)> script) : IIcmpTransport
    {
        private readonly AnswerQueue _answers = new();

        public IcmpFamily Family => IcmpFamily.IPv4;
        public SocketKind Kind => SocketKind.Datagram;
        public int? KernelIdentifier => null;
        public TransportCapabilities Capabilities => new() { ChoosesIdentifier = true, ChoosesSequence = true, CanSetTtl = true };
        public bool MoreQueued => !_answers.IsEmpty;

        public void Send(SendBatch batch)
        {
            for (var i = 0; i < batch.Count; i++)
            {
                ref var packet = ref batch.Packets[i];
                batch.Stamp(i, 1);
                var bytes = batch.PacketSpan(i);
                var payload = bytes[EchoRequestWriter.HeaderSize..].ToArray();
                var (status, responder, wrongCookie) = script(packet.Destination.ToAddress(IcmpFamily.IPv4));
                var echoed = (byte[])payload.Clone();
                if (wrongCookie)
                {
                    echoed[7] ^= 0x01;
                }
                var buffer = IpHelperMarshallingTests.V4Reply(status, responder, 0, 61, status == IpStatus.Success ? echoed : [], BufferAddress);
                Assert.True(EchoReplyLayout.TryReadV4(buffer, BufferAddress, out var reply));
                var request = new EchoRequestRecord
                {
                    Destination = packet.Destination,
                    Identifier = BinaryPrimitives.ReadUInt16BigEndian(bytes[4..]),
                    Sequence = BinaryPrimitives.ReadUInt16BigEndian(bytes[6..]),
                    SentTimestamp = packet.SentTimestamp,
                };
                if (EchoCompletion.Interpret(IcmpFamily.IPv4, in reply, in request, payload, batch.Clock.GetTimestamp(),
                        batch.Clock.TimestampFrequency, out var message, out var echoedPayload) == EchoCompletionOutcome.Message)
                {
                    _answers.Add(in message, echoedPayload);
                }
            }
        }

        public int Receive(int timeoutMilliseconds, IMessageSink sink) => _answers.Drain(timeoutMilliseconds, sink, 64);

        public void Wake() => _answers.Signal();

        public void Dispose() => _answers.Dispose();
    }

    private sealed class Outcomes : IProbeObserver, IDisposable
    {
        private readonly SemaphoreSlim _arrived = new(0);
        public List<ProbeResult> Results { get; } = new();

        public void OnProbeCompleted(in ProbeResult result)
        {
            lock (Results)
            {
                Results.Add(result);
            }
            _arrived.Release();
        }

        public void OnDuplicate(in ProbeResult result)
        {
        }

        public List<ProbeResult> WaitFor(int count)
        {
            for (var i = 0; i < count; i++)
            {
                Assert.True(_arrived.Wait(TimeSpan.FromMinutes(1)));
            }
            lock (Results)
            {
                return Results.OrderBy(r => r.Token).ToList();
            }
        }

        public void Dispose() => _arrived.Dispose();
    }

    private static ProbeSpec Probe(string destination, long token, double timeoutSeconds = 30) => new()
    {
        Destination = IpKey.FromAddress(IPAddress.Parse(destination)),
        Identifier = 0x4854,
        Sequence = (ushort)token,
        PayloadSize = 32,
        Ttl = 3,
        TimeoutTicks = (long)(timeoutSeconds * TimeProvider.System.TimestampFrequency),
        Token = token,
    };

    [Fact]
    public void EveryKindOfCompletionReachesItsProbeWithTheStatusItsIpStatusMeans()
    {
        using var prober = new Prober(new ScriptedIpHelper(destination => destination.ToString() switch
        {
            "192.0.2.1" => (IpStatus.Success, "192.0.2.1", false),
            "192.0.2.2" => (IpStatus.TtlExpiredTransit, "198.51.100.3", false),
            "192.0.2.3" => (IpStatus.DestHostUnreachable, "198.51.100.2", false),
            "192.0.2.4" => (IpStatus.GeneralFailure, "0.0.0.0", false),
            _ => throw new InvalidOperationException(),
        }));
        using var outcomes = new Outcomes();

        prober.Send([Probe("192.0.2.1", 1), Probe("192.0.2.2", 2), Probe("192.0.2.3", 3), Probe("192.0.2.4", 4)], outcomes);
        var results = outcomes.WaitFor(4);

        Assert.Equal([IcmpStatus.Success, IcmpStatus.TimeExceeded, IcmpStatus.DestinationUnreachable, IcmpStatus.SendFailed],
            results.Select(r => r.Status));
        Assert.Equal("198.51.100.3", results[1].Responder.ToAddress(IcmpFamily.IPv4).ToString());
        Assert.Equal(1, results[2].Code);
        Assert.Equal((int)IpStatus.GeneralFailure, results[3].SendError);
        Assert.Equal(61, results[0].Ttl);
        Assert.Equal(-1, results[1].QuotedTtl);
    }

    [Fact]
    public void AReplyWithAnotherCookieNeverAnswersTheProbeWhichTimesOut()
    {
        using var prober = new Prober(new ScriptedIpHelper(_ => (IpStatus.Success, "192.0.2.1", true)));
        using var outcomes = new Outcomes();

        prober.Send([Probe("192.0.2.1", 1, timeoutSeconds: 0.2)], outcomes);

        Assert.Equal(IcmpStatus.TimedOut, outcomes.WaitFor(1)[0].Status);
    }
}
