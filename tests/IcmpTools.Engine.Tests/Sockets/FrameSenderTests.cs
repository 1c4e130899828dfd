using IcmpTools.Engine.Models;
using IcmpTools.Engine.Sockets;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Engine.Tests.Sockets;

/// <summary>The Ethernet send path's own housekeeping: its packet sockets close after Dispose, and interfaces are named by index.</summary>
public sealed class FrameSenderTests
{
    // Dispose leaves the closing (an RCU grace period per packet socket) to a background thread: it must still happen.
    [SkippableTheory]
    [InlineData(IcmpFamily.IPv4)]
    [InlineData(IcmpFamily.IPv6)]
    public async Task DisposeClosesEveryPacketSocket(IcmpFamily family)
    {
        LabRequirement.RequireRoot();
        var sender = FrameSender.TryOpen(family, senders: 2, timestamps: true);
        Skip.If(sender is null, "No packet socket here (ICMPTOOLS_SEND_PATH=raw, or not permitted).");
        var sockets = sender.Sockets.ToList();
        Assert.Equal(2, sockets.Count);
        Assert.All(sockets, s => Assert.False(s.IsClosed));

        sender.Dispose();
        sender.Dispose();
        // A bound on a hang, not on speed: the close is awaited as an event.
        await sender.Closed.WaitAsync(TimeSpan.FromMinutes(5));

        Assert.All(sockets, s => Assert.True(s.IsClosed));
    }

    [SkippableFact]
    public void AnInterfaceIsNamedByItsIndexAndAMissingOneByItsNumber()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "if_indextoname is a Linux call here.");
        // Loopback is the first interface of every network namespace.
        Assert.Equal("lo", FrameSender.InterfaceName(1));
        Assert.Equal("#0", FrameSender.InterfaceName(0));
        Assert.Equal("#2147483647", FrameSender.InterfaceName(int.MaxValue));
    }
}
