using System.Runtime.Versioning;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using IcmpTools.Engine.Sockets.Windows;
using Xunit;

namespace IcmpTools.Engine.WindowsTests;

/// <summary>
/// Both Windows transports against 127.0.0.1 through the real prober: under Wine (as root, for the raw socket)
/// or on Windows (elevated). Timing is never asserted beyond "an RTT was measured".
/// </summary>
[SupportedOSPlatform("windows")]
public sealed class LoopbackTests
{
    [Theory]
    [InlineData(WindowsTransport.IpHelper)]
    [InlineData(WindowsTransport.RawWinsock)]
    public void PingingLoopbackAnswersEveryProbeWithItsOwnReply(WindowsTransport kind)
    {
        using var prober = new Prober(Transports.Open(kind));
        using var outcomes = new Outcomes();
        var probes = Enumerable.Range(1, 4).Select(i => Transports.Probe("127.0.0.1", (ushort)i)).ToArray();

        prober.Send(probes, outcomes);
        var results = outcomes.WaitFor(probes.Length);

        Assert.All(results, r => Assert.Equal(IcmpStatus.Success, r.Status));
        Assert.Equal([1L, 2, 3, 4], results.Select(r => r.Token));
        Assert.All(results, r => Assert.Equal("127.0.0.1", r.Responder.ToAddress(IcmpFamily.IPv4).ToString()));
        Assert.All(results, r => Assert.True(r.RttMilliseconds >= 0 && !double.IsNaN(r.RttMilliseconds)));
        Assert.All(results, r => Assert.Equal(8 + 32, r.BytesReceived));
    }

    [Fact]
    public void HundredsOfIphlpapiRequestsAreOutstandingAtOnceAndEachGetsItsOwnReply()
    {
        using var transport = new IpHelperTransport(IcmpFamily.IPv4);
        using var prober = new Prober(transport);
        using var outcomes = new Outcomes();
        // Loopback addresses across 127.0.0.0/8: each probe has its own destination, and all go out before any is read.
        // 200: under Wine, with about a thousand in flight some requests were refused (ERROR_INVALID_PARAMETER), a
        // limit of Wine's (one Linux socket per request in winedevice.exe), not of Windows.
        var probes = Enumerable.Range(0, 200)
            .Select(i => Transports.Probe($"127.0.{i / 100}.{(i % 100) + 1}", (ushort)i, timeoutSeconds: 20))
            .ToArray();

        prober.Send(probes, outcomes);
        var results = outcomes.WaitFor(probes.Length);

        Assert.Empty(results.Where(r => r.Status != IcmpStatus.Success)
            .Select(r => $"{r.Destination.ToAddress(IcmpFamily.IPv4)}: {r.Status} type {r.Type} code {r.Code} error {r.SendError}, " +
                $"{transport.RejectedReplies} replies rejected"));
        Assert.All(results, r => Assert.Equal(probes[r.Token].Destination, r.Responder));
        Assert.Equal(0, transport.RejectedReplies);
    }

    [Fact]
    public void ABurstOfFourThousandRawProbesToLoopbackGetsEveryAnswerFromAStockLinuxSizedBuffer()
    {
        // Linux's default net.core.rmem_max: under Wine the raw socket is a Linux one, and on a stock machine that is
        // all of the 4 MB the transport asks for that it gets (Wine reports the 4 MB all the same). Asked for here, so
        // the test sees that machine whatever this one's sysctls say.
        const int StockLinuxReceiveBuffer = 212_992;
        using var transport = new WinsockRawTransport(IcmpFamily.IPv4, false, null, null, false, StockLinuxReceiveBuffer);
        using var prober = new Prober(transport);
        using var outcomes = new Outcomes();
        // A loopback /20 sent at once, as Invoke-IcmpMultiPing sends it: every request also comes back to the raw socket,
        // so 8,188 datagrams reach it. Before the sender waited for the receive thread, the buffer held the first ~300
        // answers and the kernel dropped the rest. The timeout only has to outlast a loaded machine: no probe may be lost.
        var probes = Enumerable.Range(0, 4094)
            .Select(i => Transports.Probe($"127.21.{(i + 1) / 256}.{(i + 1) % 256}", (ushort)i, timeoutSeconds: 30))
            .ToArray();

        prober.Send(probes, outcomes);
        var results = outcomes.WaitFor(probes.Length);

        var unanswered = results.Where(r => r.Status != IcmpStatus.Success).ToList();
        Assert.True(unanswered.Count == 0,
            $"{unanswered.Count} of {probes.Length} unanswered, first: " +
            string.Join(", ", unanswered.Take(5).Select(r => $"{r.Destination.ToAddress(IcmpFamily.IPv4)} {r.Status}")));
        Assert.All(results, r => Assert.Equal(probes[r.Token].Destination, r.Responder));
    }

    [Fact]
    public async Task DisposingTheRawTransportDoesNotWaitForItsReceiveThreadWhichClosesTheSocketWhenItLeavesItsWait()
    {
        // The receive thread waits for datagrams in slices of 100 ms; Dispose used to join it, so every operation's end
        // (each Invoke-IcmpMultiPing's) waited up to a slice. Here the thread's wait lasts until the test ends it.
        using var inWait = new ManualResetEventSlim();
        using var endWait = new ManualResetEventSlim();
        var transport = new WinsockRawTransport(IcmpFamily.IPv4, false, null, null, false, 1 << 20, _ =>
        {
            inWait.Set();
            endWait.Wait();
            return false;
        });
        try
        {
            Assert.True(inWait.Wait(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken), "the receive thread never waited");

            // The bound only turns the old behaviour (a Dispose that waits as long as the thread's wait) into a failure:
            // a TimeoutException.
            await Task.Run(transport.Dispose, TestContext.Current.CancellationToken)
                .WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
            Assert.False(transport.Closed.IsCompleted, "the socket was closed under the receive thread's wait");
        }
        finally
        {
            endWait.Set();
        }
        // Completes once the receive thread has left its wait and closed the socket; the bound only stops a hang.
        await transport.Closed.WaitAsync(TimeSpan.FromMinutes(2), TestContext.Current.CancellationToken);
        Assert.Throws<ObjectDisposedException>(() => transport.Send(new SendBatch(1)));
    }

    [Fact]
    public void TheIphlpapiTransportSaysWhatItCannotDo()
    {
        using var transport = new IpHelperTransport(IcmpFamily.IPv4);

        Assert.Equal(SocketKind.Datagram, transport.Kind);
        Assert.True(transport.Capabilities.ChoosesIdentifier);
        Assert.False(transport.Capabilities.SupportsParis);
        Assert.False(transport.Capabilities.HasRawErrorBytes);
        Assert.True(transport.Capabilities.CanSetTtl);
        Assert.Contains(transport.Capabilities.Limits(), l => l.Contains("Paris", StringComparison.Ordinal));
    }

    [Fact]
    public void TheRawWinsockTransportCanDoWhatALinuxRawSocketDoes()
    {
        using var transport = new WinsockRawTransport(IcmpFamily.IPv4);

        Assert.Equal(SocketKind.Raw, transport.Kind);
        Assert.True(transport.Capabilities.SupportsParis);
        Assert.True(transport.Capabilities.HasRawErrorBytes);
        Assert.False(transport.Capabilities.ChoosesIdentifier);
    }

    [Fact]
    public void TheFactoryOpensIphlpapiForTheUnprivilegedKindAndRawWinsockForTheRawKind()
    {
        using (var unprivileged = TransportFactory.Open(new ProberKey(IcmpFamily.IPv4, SocketKind.Datagram)))
        {
            Assert.IsType<IpHelperTransport>(unprivileged);
        }
        using var raw = TransportFactory.Open(new ProberKey(IcmpFamily.IPv4, SocketKind.Raw));
        Assert.IsType<WinsockRawTransport>(raw);
    }

    [Fact]
    public void ABroadcastOverIphlpapiIsRefusedWithAClearError()
    {
        var error = Assert.Throws<Errors.SocketBroadcastException>(() => new IpHelperTransport(IcmpFamily.IPv4, broadcast: true));
        Assert.Contains("raw socket", error.Message, StringComparison.Ordinal);
    }
}
