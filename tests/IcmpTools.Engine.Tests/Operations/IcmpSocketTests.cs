using System.Net.Sockets;
using IcmpTools.Engine.Errors;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Tests.Fakes;
using Xunit;

namespace IcmpTools.Engine.Tests.Operations;

/// <summary>The low-level socket's bookkeeping over a fake prober (192.0.2.0/24 never leaves the process).</summary>
public sealed class IcmpSocketTests
{
    private static Request Request(int sequence) => new("192.0.2.10", IcmpFamily.IPv4, 4242, sequence, 16, 64, 0, DateTime.UtcNow);

    [Fact]
    public void ASendThatThrowsLeavesNoRequestBehind()
    {
        // Issue 14 (8): the request was booked before the send and kept when the send threw.
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);
        using var socket = new IcmpSocket(new ProberLease(prober, () => { }), IcmpFamily.IPv4, null, null, broadcast: false);
        fake.SendException = new SocketException((int)SocketError.NetworkDown);
        var request = Request(1);

        Assert.Throws<SocketException>(() => socket.Send(request));

        Assert.Equal(0, socket.Booked);
        // Never sent, so nothing waits for it: said at once, not after a wait that can only time out.
        Assert.Throws<ArgumentException>(() => socket.Receive(request, 0));
    }

    [Fact]
    public void ARequestSentAgainAfterAFailedSendIsAnsweredAsItsLastSend()
    {
        using var fake = new FakeTransport();
        using var prober = new Prober(fake, fake.Clock);
        using var socket = new IcmpSocket(new ProberLease(prober, () => { }), IcmpFamily.IPv4, null, null, broadcast: false);
        var request = Request(2);
        fake.SendException = new SocketException((int)SocketError.NetworkDown);
        Assert.Throws<SocketException>(() => socket.Send(request));
        fake.SendException = null;

        socket.Send(request);
        fake.Clock.Advance(TimeSpan.FromMilliseconds(5));

        Assert.Equal(IcmpStatus.Success, socket.Receive(request, 30).Status);
        Assert.Equal(0, socket.Booked);
    }
}
