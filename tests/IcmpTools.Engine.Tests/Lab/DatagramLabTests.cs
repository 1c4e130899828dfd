using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>
/// The datagram ("ping") transport and the socket policy in the lab's client namespace, in-process (as root:
/// a datagram socket needs only the range, so root tests the same code; the uid 65534 runs are in
/// IcmpTools.Tests' UnprivilegedLabTests). Errors arrive through the error queue here.
/// </summary>
[Collection(LabGroup.Name)]
public sealed class DatagramLabTests
{
    private const string Open = "0 2147483647";
    private readonly LabFixture _fixture;

    public DatagramLabTests(LabFixture fixture)
    {
        _fixture = fixture;
        _fixture.Lab.Exec("c", $"sysctl -qw net.ipv4.ping_group_range='{Open}'");
    }

    private sealed class Collector : IProbeObserver
    {
        public BlockingCollection<ProbeResult> Results { get; } = new();

        public void OnProbeCompleted(in ProbeResult result) => Results.Add(result);

        public void OnDuplicate(in ProbeResult result)
        {
        }
    }

    /// <summary>One probe through a fresh prober of the key; returns its outcome (waits on the event, 10 s at most).</summary>
    private ProbeResult Probe(ProberKey key, string target, int ttl, bool unprivileged = false) => _fixture.Lab.InClient(() =>
    {
        using var lease = ProberPool.AcquireAuto(key, unprivileged);
        var collector = new Collector();
        var spec = new ProbeSpec
        {
            Destination = IpKey.FromAddress(IPAddress.Parse(target)),
            Identifier = 4321,
            Sequence = 9,
            PayloadSize = 56,
            Ttl = ttl,
            TimeoutTicks = Stopwatch.Frequency,
        };
        lease.Prober.Send(new ReadOnlySpan<ProbeSpec>(in spec), collector);
        Assert.True(collector.Results.TryTake(out var result, TimeSpan.FromSeconds(10)), "no outcome within 10 s");
        return result;
    });

    [SkippableFact]
    public void TheKernelsIdentifierIsKnownBeforeTheFirstSendAndIsTheOneRepliesCarry()
    {
        var (identifier, reply) = _fixture.Lab.InClient(() =>
        {
            var transport = TransportFactory.Open(new ProberKey(IcmpFamily.IPv4, SocketKind.Datagram));
            var known = transport.KernelIdentifier;
            using var prober = new Prober(transport);
            var collector = new Collector();
            var spec = new ProbeSpec
            {
                Destination = IpKey.FromAddress(IPAddress.Parse("198.18.4.2")),
                Identifier = (ushort)((known ?? 0) + 1),
                Sequence = 3,
                PayloadSize = 56,
                Ttl = 64,
                TimeoutTicks = Stopwatch.Frequency,
            };
            prober.Send(new ReadOnlySpan<ProbeSpec>(in spec), collector);
            Assert.True(collector.Results.TryTake(out var result, TimeSpan.FromSeconds(10)), "no outcome within 10 s");
            return (known, result);
        });

        Assert.InRange(identifier ?? -1, 1, 65535);
        Assert.Equal(IcmpStatus.Success, reply.Status);
        // The prober writes the kernel's identifier itself, so the checksum it sends is the one on the wire.
        Assert.Equal(identifier, reply.Identifier);
    }

    [SkippableTheory]
    [InlineData("198.18.4.2", 1, "198.18.1.1")]
    [InlineData("198.18.4.2", 3, "198.18.3.2")]
    [InlineData("2001:db8:4::2", 2, "2001:db8:2::2")]
    public void TimeExceededComesThroughTheErrorQueueWithTheQuotedTtlUnknown(string target, int ttl, string router)
    {
        var family = target.Contains(':', StringComparison.Ordinal) ? IcmpFamily.IPv6 : IcmpFamily.IPv4;

        var datagram = Probe(new ProberKey(family), target, ttl, unprivileged: true);
        var raw = Probe(new ProberKey(family), target, ttl);

        Assert.Equal(IcmpStatus.TimeExceeded, datagram.Status);
        Assert.Equal(router, datagram.Responder.ToAddress(family).ToString());
        Assert.Equal(raw.Responder, datagram.Responder);
        Assert.Equal(raw.Ttl, datagram.Ttl);
        Assert.Equal(-1, datagram.QuotedTtl);
        Assert.True(raw.QuotedTtl >= 0, $"raw quoted TTL {raw.QuotedTtl}");
    }

    /// <summary>
    /// Each ICMP error a datagram socket receives also leaves a pending socket error that fails that socket's
    /// next send; a TTL-limited sweep used to lose probes as SendFailed (2,158 of 16,382 at TTL 2 on a /18).
    /// </summary>
    // IPv4 only: IPv6 still sends on its receiving socket, where the receive loop's own error-queue reads re-arm
    // the pending error (sock_dequeue_err_skb) and, in about one run in three on a loaded machine, a few of 4,094
    // sends still fail after every retry; see DatagramSocketTransport's remarks.
    [SkippableTheory]
    [InlineData("198.19.0.0", 16)]
    public void ABurstOfTimeExceededNeverFailsTheSendsAfterIt(string network, int prefix)
    {
        var block = new IPNetwork(IPAddress.Parse(network), prefix);
        var family = block.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? IcmpFamily.IPv4 : IcmpFamily.IPv6;
        var statuses = _fixture.Lab.InClient(() =>
        {
            using var lease = ProberPool.AcquireAuto(new ProberKey(family), unprivileged: true);
            var counts = new ConcurrentDictionary<(IcmpStatus Status, int Errno), int>();
            var total = (1 << ((family == IcmpFamily.IPv4 ? 32 : 128) - prefix)) - 2;
            using var done = new CountdownEvent(total);
            var observer = new Counting(counts, done);
            var specs = new ProbeSpec[Prober.MaxBatch];
            var start = block.BaseAddress.GetAddressBytes();
            var filled = 0;
            for (var i = 1; i <= total; i++)
            {
                var address = (byte[])start.Clone();
                address[^1] = (byte)i;
                address[^2] |= (byte)(i >> 8);
                specs[filled++] = new ProbeSpec
                {
                    Destination = IpKey.FromAddress(new IPAddress(address)), Identifier = 1, Sequence = 1, PayloadSize = 56, Ttl = 1,
                    TimeoutTicks = 5 * Stopwatch.Frequency, Token = i,
                };
                if (filled == specs.Length || i == total)
                {
                    lease.Prober.Send(specs.AsSpan(0, filled), observer);
                    filled = 0;
                }
            }
            Assert.True(done.Wait(TimeSpan.FromSeconds(60)), "not every probe finished within 60 s");
            return counts;
        });

        Assert.Equal([(IcmpStatus.TimeExceeded, 0)], statuses.Keys);
    }

    private sealed class Counting(ConcurrentDictionary<(IcmpStatus Status, int Errno), int> counts, CountdownEvent done) : IProbeObserver
    {
        public void OnProbeCompleted(in ProbeResult result)
        {
            counts.AddOrUpdate((result.Status, result.SendError), 1, (_, n) => n + 1);
            done.Signal();
        }

        public void OnDuplicate(in ProbeResult result)
        {
        }
    }

    [SkippableFact]
    public void RootWithTheRangeClosedStillGetsRawAndOnlyUnprivilegedFails()
    {
        _fixture.Lab.Exec("c", "sysctl -qw net.ipv4.ping_group_range='1 0'");
        try
        {
            var kind = _fixture.Lab.InClient(() =>
            {
                using var lease = ProberPool.AcquireAuto(new ProberKey(IcmpFamily.IPv4));
                return lease.Prober.Kind;
            });
            var failure = Assert.Throws<SocketPermissionException>(() => _fixture.Lab.InClient(() =>
                ProberPool.AcquireAuto(new ProberKey(IcmpFamily.IPv4), unprivileged: true)));

            Assert.Equal(SocketKind.Raw, kind);
            Assert.Contains("ping_group_range is '1 0'", failure.Message, StringComparison.Ordinal);
        }
        finally
        {
            _fixture.Lab.Exec("c", $"sysctl -qw net.ipv4.ping_group_range='{Open}'");
        }
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void InterfaceBindsTheSocketToOneDevice(bool unprivileged)
    {
        var through = Probe(new ProberKey(IcmpFamily.IPv4, Interface: "to-r1"), "198.18.4.2", 64, unprivileged);
        // Bound to loopback, a lab address has no route: the send fails or nothing answers, never a reply.
        var elsewhere = Probe(new ProberKey(IcmpFamily.IPv4, Interface: "lo"), "198.18.4.2", 64, unprivileged);
        var missing = Assert.Throws<SocketUnavailableException>(() =>
            Probe(new ProberKey(IcmpFamily.IPv4, Interface: "nosuch0"), "198.18.4.2", 64, unprivileged));

        Assert.Equal(IcmpStatus.Success, through.Status);
        Assert.NotEqual(IcmpStatus.Success, elsewhere.Status);
        Assert.Contains("no interface 'nosuch0'", missing.Message, StringComparison.Ordinal);
    }

    [SkippableFact]
    public void ASocketsRepliesNeverReachAnotherSocketOnTheSameProber()
    {
        var (first, second) = _fixture.Lab.InClient(() =>
        {
            using var a = IcmpSocket.Open(IcmpFamily.IPv4, unprivileged: true);
            using var b = IcmpSocket.Open(IcmpFamily.IPv4, unprivileged: true);
            var request = new Request("198.18.4.2", IcmpFamily.IPv4, 7, 5, 32, 64, 0, DateTime.UtcNow);
            a.Send(request);
            b.Send(request);
            return (a.Receive(request, 5), b.Receive(request, 5));
        });

        Assert.Equal(IcmpStatus.Success, first.Status);
        Assert.Equal(IcmpStatus.Success, second.Status);
        Assert.False(first.IsPrivileged);
    }

    [SkippableFact]
    public void ReceiveNeverWaitsLongerThanItsTimeoutAndAClosedSocketSaysSo()
    {
        var (timedOut, closed, waited) = _fixture.Lab.InClient(() =>
        {
            var socket = IcmpSocket.Open(IcmpFamily.IPv4, unprivileged: true);
            // The blackholed block answers nothing.
            var request = new Request("198.18.13.7", IcmpFamily.IPv4, 7, 6, 32, 64, 0, DateTime.UtcNow);
            socket.Send(request);
            var watch = Stopwatch.StartNew();
            var timeout = Assert.Throws<TimeoutExceededException>(() => socket.Receive(request, 0.3));
            var elapsed = watch.Elapsed;
            socket.Close();
            var closedError = Assert.Throws<SocketUnavailableException>(() => socket.Send(request));
            return (timeout, closedError, elapsed);
        });

        Assert.Equal(TimeSpan.FromSeconds(0.3), timedOut.Timeout);
        Assert.True(waited >= TimeSpan.FromSeconds(0.29), $"returned after {waited}");
        Assert.Contains("closed", closed.Message, StringComparison.Ordinal);
    }
}
