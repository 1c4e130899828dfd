using IcmpTools.Engine.Models;
using IcmpTools.Engine.Probing;
using IcmpTools.Engine.Sockets;
using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Engine.Tests.Probing;

/// <summary>
/// Probers kept open between commands (Test-IcmpEcho -MtuSize): shared by the next lease of their key, closed when the keep
/// runs out or at once by CloseIdle. Each test has a key of its own (a raw IPv4 socket bound to lo), so tests elsewhere never
/// share its prober; real sockets, so root (as CI is).
/// </summary>
public sealed class ProberPoolTests
{
    private static ProberKey KeyOf(bool broadcast, bool dontFragment) =>
        new(IcmpFamily.IPv4, SocketKind.Raw, dontFragment, Interface: "lo", Broadcast: broadcast, FramePath: false);

    [SkippableFact]
    public void AProberKeptIdleServesTheNextLeaseAndClosesWithTheLastLeaseThatKeepsNothing()
    {
        LabRequirement.RequireRoot();
        var key = KeyOf(broadcast: false, dontFragment: true);
        var first = ProberPool.Acquire(key, TimeSpan.FromHours(1));
        var prober = first.Prober;

        first.Dispose();
        Assert.False(prober.IsDisposed);
        using (var second = ProberPool.Acquire(key))
        {
            Assert.Same(prober, second.Prober);
        }

        Assert.True(prober.IsDisposed);
        using var third = ProberPool.Acquire(key);
        Assert.NotSame(prober, third.Prober);
    }

    [SkippableFact]
    public void CloseIdleClosesAKeptProberAtOnceAndLeavesALeasedOne()
    {
        LabRequirement.RequireRoot();
        var kept = ProberPool.Acquire(KeyOf(broadcast: true, dontFragment: true), TimeSpan.FromHours(1));
        var keptProber = kept.Prober;
        kept.Dispose();
        using var leased = ProberPool.Acquire(KeyOf(broadcast: true, dontFragment: false), TimeSpan.FromHours(1));

        ProberPool.CloseIdle();

        Assert.True(keptProber.IsDisposed);
        Assert.False(leased.Prober.IsDisposed);
    }

    [SkippableFact]
    public void AKeptProberClosesOnItsOwnWhenItsKeepRunsOut()
    {
        LabRequirement.RequireRoot();
        var lease = ProberPool.Acquire(KeyOf(broadcast: false, dontFragment: false), TimeSpan.FromMilliseconds(20));
        var prober = lease.Prober;

        lease.Dispose();

        // Waits for the close, however late a loaded machine runs the timer; the bound only catches one that never comes.
        Assert.True(SpinWait.SpinUntil(() => prober.IsDisposed, TimeSpan.FromMinutes(2)), "the kept prober was never closed");
    }
}
