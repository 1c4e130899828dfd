using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Engine.Tests.Lab;

/// <summary>The datagram transport's IPv6 send under -DontFragment, in a namespace of the test's own (ping sockets allowed there).</summary>
public sealed class DatagramDontFragmentTests
{
    private const int Emsgsize = 90;

    [SkippableFact]
    public void AnIPv6ProbeTooBigToSendWholeFailsOnceInsteadOfSpinning()
    {
        // Issue 14 (8): the send's own EMSGSIZE queues a local error, and "errors are queued" kept the retry loop
        // going (up to 65,536 sends), each retry queueing one more.
        LabRequirement.RequireRoot();
        using var own = new OwnNamespace();
        own.Exec("ip", "link", "set", "lo", "up");
        own.Exec("sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647");

        var (error, queued) = own.Invoke(() =>
        {
            using var transport = new DatagramSocketTransport(IcmpFamily.IPv6, dontFragment: true);
            var batch = new SendBatch(1);
            // 65,500 bytes of payload and the headers exceed loopback's 65,536-byte MTU.
            var index = batch.Add(EchoRequestWriter.HeaderSize + 65_500, IpKey.FromAddress(IPAddress.IPv6Loopback), default, false, 64, 0);
            EchoRequestWriter.Write(batch.PacketSpan(index), IcmpFamily.IPv6, 0, 1, new ProbeCookie(7, 1), 65_500, default, false);
            transport.Send(batch);
            return (batch.Packets[0].Error, transport.DrainErrorQueue());
        });

        Assert.Equal(Emsgsize, error);
        Assert.InRange(queued, 0, 2);
    }
}
