using System.Net;
using System.Runtime.InteropServices;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets;

/// <summary>The raw transport on real loopback sockets (root): per-packet transmit stamps and descriptor ownership.</summary>
public sealed partial class RawSocketTransportTests
{
    private sealed class Recorder : IMessageSink
    {
        public readonly Dictionary<uint, long> Stamps = new();
        public readonly List<IcmpMessage> Messages = new();

        public void OnMessage(in IcmpMessage message, ReadOnlySpan<byte> echoedPayload) => Messages.Add(message);

        public void OnSendTimestamp(uint key, long realtimeNs) => Stamps[key] = realtimeNs;
    }

    private static SendBatch Batch(IcmpFamily family, IPAddress destination, int count, uint firstKey)
    {
        var batch = new SendBatch(count);
        for (var i = 0; i < count; i++)
        {
            var index = batch.Add(EchoRequestWriter.HeaderSize + 16, IpKey.FromAddress(destination), default, false, 64, 0);
            batch.Packets[index].Key = firstKey + (uint)i;
            EchoRequestWriter.Write(batch.PacketSpan(index), family, 999, (ushort)(i + 1), new ProbeCookie(7, (uint)i), 16, default, false);
        }
        return batch;
    }

    // Issue 14 (7): before Linux 6.13 the kernel refuses SCM_TS_OPT_ID; the fallback sent without keys but left
    // SO_TIMESTAMPING on, so every packet's stamp piled up on error queues nobody read (up to 8 MB a socket).
    [SkippableTheory]
    [InlineData(IcmpFamily.IPv4, "127.0.0.1")]
    [InlineData(IcmpFamily.IPv6, "::1")]
    public void WhereTheKernelRefusesStampKeysTheSendSocketsStopStampingAndQueueNothing(IcmpFamily family, string address)
    {
        LabRequirement.RequireRoot();
        // A control message type no kernel knows: this kernel refuses it with EINVAL, as an older one refuses the key.
        using var transport = new RawSocketTransport(family, dontFragment: false) { StampKeyType = 0x7FFF };
        var recorder = new Recorder();
        const int Batches = 8;

        for (var round = 0; round < Batches; round++)
        {
            var batch = Batch(family, IPAddress.Parse(address), SendBatch.MaxCapacity, (uint)(5000 + (round * SendBatch.MaxCapacity)));
            transport.Send(batch);
            Assert.All(batch.Packets.Take(batch.Count), p => Assert.Equal(0, p.Error));
        }
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (recorder.Messages.Count(m => m.Kind == IcmpKind.EchoReply && m.Identifier == 999) < Batches * SendBatch.MaxCapacity
            && DateTime.UtcNow < until)
        {
            transport.Receive(200, recorder);
        }

        Assert.Equal(Batches * SendBatch.MaxCapacity, recorder.Messages.Count(m => m.Kind == IcmpKind.EchoReply && m.Identifier == 999));
        Assert.Empty(recorder.Stamps);
        Assert.Equal(0, transport.DrainSendErrorQueues());
    }

    // Issue 7 item 9: one stamp per 64-packet sendmmsg put the kernel's work for earlier packets into later RTTs.
    [SkippableTheory]
    [InlineData(IcmpFamily.IPv4, "127.0.0.1")]
    [InlineData(IcmpFamily.IPv6, "::1")]
    public void EveryPacketOfABatchGetsItsOwnKernelTransmitStamp(IcmpFamily family, string address)
    {
        LabRequirement.RequireRoot();
        using var transport = new RawSocketTransport(family, dontFragment: false);
        var batch = Batch(family, IPAddress.Parse(address), SendBatch.MaxCapacity, 5000);
        var recorder = new Recorder();

        transport.Send(batch);
        Assert.All(batch.Packets.Take(batch.Count), p => Assert.Equal(0, p.Error));
        // Wait on the replies (events, not a sleep): 64 echo replies, generously bounded for a loaded machine.
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (recorder.Messages.Count(m => m.Kind == IcmpKind.EchoReply && m.Identifier == 999) < SendBatch.MaxCapacity && DateTime.UtcNow < until)
        {
            transport.Receive(200, recorder);
        }

        Assert.Equal(Enumerable.Range(5000, SendBatch.MaxCapacity).Select(k => (uint)k), recorder.Stamps.Keys.Order());
        // Each stamp is that packet's own: they follow the sending order, not one value for the batch.
        var stamps = Enumerable.Range(5000, SendBatch.MaxCapacity).Select(k => recorder.Stamps[(uint)k]).ToList();
        Assert.Equal(stamps.Order(), stamps);
        Assert.True(stamps[^1] > stamps[0]);
        Assert.All(stamps, s => Assert.True(s >= batch.Packets[0].SentRealtimeNs, "a kernel stamp before the user-space one"));
    }

    private sealed class OrderRecorder : IMessageSink
    {
        public readonly List<(bool IsStamp, uint Key)> Events = new();

        public void OnMessage(in IcmpMessage message, ReadOnlySpan<byte> echoedPayload)
        {
            if (message.Kind == IcmpKind.EchoReply && message.Identifier == 999 && message.HasCookie)
            {
                lock (Events)
                {
                    Events.Add((false, 5000 + message.Cookie.Serial));
                }
            }
        }

        public void OnSendTimestamp(uint key, long realtimeNs)
        {
            lock (Events)
            {
                Events.Add((true, key));
            }
        }
    }

    // A path MTU search asks for no frame path: its set-up (packet sockets, netlink reads) costs more than the search.
    [SkippableTheory]
    [InlineData(IcmpFamily.IPv4)]
    [InlineData(IcmpFamily.IPv6)]
    public void WithoutTheFramePathNoPacketSocketIsOpened(IcmpFamily family)
    {
        LabRequirement.RequireRoot();
        using var plain = new RawSocketTransport(family, dontFragment: true, framePath: false);
        using var framed = new RawSocketTransport(family, dontFragment: true);

        Assert.Null(plain.Frames);
        Assert.Equal(FrameSender.Allowed, framed.Frames is not null);
    }

    // The receive loop reads answers while sendmmsg is still sending them (loopback answers inside the call):
    // it must take each probe's stamp before the answer, or that RTT falls back to the user-space stamp.
    [SkippableFact]
    public void AnAnswerReadWhileItsBatchIsStillBeingSentComesAfterItsStamp()
    {
        LabRequirement.RequireRoot();
        using var transport = new RawSocketTransport(IcmpFamily.IPv4, dontFragment: false);
        var recorder = new OrderRecorder();
        using var stop = new CancellationTokenSource();
        var receiver = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                transport.Receive(50, recorder);
            }
        });
        receiver.Start();
        try
        {
            for (var round = 0; round < 20; round++)
            {
                transport.Send(Batch(IcmpFamily.IPv4, IPAddress.Loopback, SendBatch.MaxCapacity, 5000));
            }
            var until = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (DateTime.UtcNow < until)
            {
                lock (recorder.Events)
                {
                    if (recorder.Events.Count(e => !e.IsStamp) >= 20 * SendBatch.MaxCapacity)
                    {
                        break;
                    }
                }
                Thread.Sleep(20);
            }
        }
        finally
        {
            stop.Cancel();
            receiver.Join();
        }

        // Keys repeat each round: every answer must find at least as many stamps of its key before it as answers.
        var stamps = new Dictionary<uint, int>();
        var answers = new Dictionary<uint, int>();
        foreach (var (isStamp, key) in recorder.Events)
        {
            var table = isStamp ? stamps : answers;
            table[key] = table.GetValueOrDefault(key) + 1;
            if (!isStamp)
            {
                Assert.True(stamps.GetValueOrDefault(key) >= answers[key], $"the answer to key {key} came before its stamp");
            }
        }
        Assert.Equal(20 * SendBatch.MaxCapacity, answers.Values.Sum());
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial int eventfd(uint initial, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial nint read(int fd, void* buffer, nuint count);

    [LibraryImport("libc")]
    private static partial int close(int fd);

    // Issue 7 item 6: Wake and Send used raw descriptors after Dispose had closed them, by then someone else's.
    [SkippableFact]
    public unsafe void AClosedTransportNeverTouchesTheDescriptorsItOnceHad()
    {
        LabRequirement.RequireRoot();
        var transport = new RawSocketTransport(IcmpFamily.IPv4, dontFragment: false);
        transport.Dispose();
        // The lowest free numbers are the ones just closed: this eventfd very likely reuses the wake-up's.
        var strangers = Enumerable.Range(0, 8).Select(_ => eventfd(0, 0x800 /* EFD_NONBLOCK */)).ToList();
        try
        {
            transport.Wake();
            Assert.Throws<SocketUnavailableException>(() => transport.Send(Batch(IcmpFamily.IPv4, IPAddress.Loopback, 1, 1)));
            Assert.Equal(0, transport.Receive(0, new Recorder()));

            foreach (var fd in strangers)
            {
                ulong value;
                Assert.True(read(fd, &value, sizeof(ulong)) < 0, $"descriptor {fd}, not the transport's any more, was written to");
            }
        }
        finally
        {
            strangers.ForEach(fd => _ = close(fd));
        }
    }

    /// <summary>
    /// A path MTU search's sockets (no frame path) take a few answers per receive call: 64 slots of the largest datagram
    /// pinned 4.2 MB a socket, and with the IPv4 prober kept open between searches the IPv6 one opened next allocated a
    /// second set, a full collection in the middle of the first IPv6 search.
    /// </summary>
    [SkippableFact]
    public void TwoFewProbeSocketsOpenAtOnceAllocateLessThanOneBurstBuffer()
    {
        LabRequirement.RequireRoot();
        var before = GC.GetAllocatedBytesForCurrentThread();
        using var v4 = new RawSocketTransport(IcmpFamily.IPv4, dontFragment: true, framePath: false);
        using var v6 = new RawSocketTransport(IcmpFamily.IPv6, dontFragment: true, framePath: false);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // Two open at once: one at most can take the spare buffer a closed socket left.
        Assert.InRange(allocated, 0, 1024 * 1024);
    }
}
