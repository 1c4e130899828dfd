using System.Net;
using IcmpTools.Engine.Models;
using IcmpTools.Engine.Packets;
using IcmpTools.Engine.Sockets;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets;

/// <summary>The kernel's path MTU, read through a connected UDP socket (connect on UDP only picks a route: nothing is sent).</summary>
public sealed class KernelPathMtuTests
{
    /// <summary>
    /// After a connected query, one refused connect (here the limited broadcast address, which a socket without SO_BROADCAST may not connect to)
    /// made .NET take the socket for disconnected: every later query threw InvalidOperationException, and every later
    /// search on the prober failed "unexpectedly" (seen once probers were kept between -MtuSize calls).
    /// </summary>
    [Fact]
    public void AQueryTheKernelRefusesLeavesTheNextOnesWorking()
    {
        using var mtu = KernelPathMtu.TryOpen(IcmpFamily.IPv4);
        Assert.NotNull(mtu);

        // Loopback's MTU (65,536 here; whatever the kernel's figure, not zero), then a refusal, then loopback again.
        Assert.True(mtu.Query(IpKey.FromAddress(IPAddress.Loopback)) > 0);
        Assert.Equal(0, mtu.Query(IpKey.FromAddress(IPAddress.Broadcast)));

        Assert.True(mtu.Query(IpKey.FromAddress(IPAddress.Loopback)) > 0);
    }

    [Fact]
    public void AClosedReaderAnswersUnknown()
    {
        var mtu = KernelPathMtu.TryOpen(IcmpFamily.IPv6);
        Assert.NotNull(mtu);
        Assert.True(mtu.Query(IpKey.FromAddress(IPAddress.IPv6Loopback)) > 0);

        mtu.Dispose();

        Assert.Equal(0, mtu.Query(IpKey.FromAddress(IPAddress.IPv6Loopback)));
    }
}
