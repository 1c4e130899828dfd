using Xunit;

namespace IcmpTools.Engine.Tests.Fakes;

/// <summary>The virtual-time helper itself: the clock moves only when the work under test waits for it.</summary>
public sealed class VirtualTimeTests
{
    /// <summary>
    /// The gap that made PathMtuTests fail now and then (issue 14), held open on purpose: work handed to the thread
    /// pool that a pool thread has taken but not yet run in the test's context, as the prober's receive thread hands
    /// a result to the discovery's loop. Neither queued nor running, no count sees it; nothing waits on a timer. The
    /// held thread lets go once the clock moves, or once the helper has looked at the engine many times (its own
    /// continuations count as changes) without moving it. Before the fix the clock moved at the first look.
    /// </summary>
    [Fact]
    public async Task TheClockDoesNotMoveWhileAHandOffNoCountSeesIsOnItsWay()
    {
        var clock = new VirtualClock(DateTimeOffset.UnixEpoch.AddYears(56));
        EngineWork.Enter(clock);
        var work = EngineWork.For(clock);
        var start = clock.GetUtcNow();
        var handedOver = new TaskCompletionSource<DateTimeOffset>(TaskCreationOptions.RunContinuationsAsynchronously);

        var elapsed = await VirtualTime.Run(clock, HandOffAsync(), TimeSpan.FromMilliseconds(5));

        Assert.Equal(TimeSpan.Zero, elapsed);
        Assert.Equal(start, clock.GetUtcNow());

        async Task<TimeSpan> HandOffAsync()
        {
            // Queued without the context, as a completion the runtime queues for a continuation it will run later.
            ThreadPool.UnsafeQueueUserWorkItem(_ => Held(), null);
            return await handedOver.Task - start;
        }

        void Held()
        {
            var looks = work.Changes;
            // Bounded: a helper that neither moves the clock nor looks again must not hold a pool thread forever.
            var giveUp = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (clock.GetUtcNow() == start && work.Changes - looks < 200 && DateTime.UtcNow < giveUp)
            {
                Thread.Sleep(1);
            }
            handedOver.SetResult(clock.GetUtcNow());
        }
    }

    /// <summary>The rule's other half: while a timer is armed, the clock moves to it, and no further than the work needs.</summary>
    [Fact]
    public async Task TheClockMovesToAnArmedTimer()
    {
        var clock = new VirtualClock(DateTimeOffset.UnixEpoch.AddYears(56));
        EngineWork.Enter(clock);
        var start = clock.GetUtcNow();

        await VirtualTime.Run(clock, Task.Delay(TimeSpan.FromMilliseconds(500), clock), TimeSpan.FromMilliseconds(5));

        Assert.Equal(TimeSpan.FromMilliseconds(500), clock.GetUtcNow() - start);
        Assert.False(clock.HasArmedTimer);
    }
}
