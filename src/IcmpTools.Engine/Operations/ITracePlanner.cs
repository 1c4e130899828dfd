using IcmpTools.Engine.Models;

namespace IcmpTools.Engine.Operations;

/// <summary>
/// What <see cref="Traceroute"/>'s one loop asks of a trace's planner: which probes are due, what their
/// outcomes mean, which hops are final. One pass (<see cref="TraceroutePlanner"/>) and rounds of passes
/// (<see cref="TraceRoundsPlanner"/>) answer the same questions, so both run on the one scheduler and prober.
/// </summary>
internal interface ITracePlanner
{
    /// <summary>Nothing more will be sent or handed out.</summary>
    bool IsDone { get; }

    /// <summary>The earliest time something is due (a probe to send, a deadline); long.MaxValue when none.</summary>
    long NextWake { get; }

    void TakeDue(long now, List<PlannedProbe> into);

    void OnSent(int id, long timestamp);

    void OnAnswer(int id, in TraceAnswer answer);

    void OnTimedOut(int id);

    void Update(long now);

    void TakeFinishedHops(List<Hop> into);

    void TakeCancelled(List<int> into);

    void TakeRetimed(List<RetimedProbe> into);

    void TakeNewResponders(List<string> into);

    /// <summary>Ends the trace early (Ctrl+C): cancels what is out and hands out no more hops.</summary>
    void Stop();
}
