using IcmpTools.Engine.Models;
using IcmpTools.Engine.Operations;
using Xunit;

namespace IcmpTools.Engine.Tests.Fakes;

/// <summary>A hop handed out by a planner, and the virtual time (ms) at which it was.</summary>
public sealed record EmittedHop(Hop Hop, double AtMilliseconds);

/// <summary>A probe the planner sent, at a virtual time (ms).</summary>
public sealed record SentProbe(int Ttl, int Flow, double AtMilliseconds);

/// <summary>
/// Drives a trace planner the way <see cref="Traceroute"/>'s loop does, on virtual time (microsecond
/// timestamps): due probes are reported sent at once and go to <c>answer</c> (TTL, flow, probe number → what comes back, or null), answers
/// arrive after their RTT, and time jumps to the next arrival or wake-up. No socket, no scheduler, no clock.
/// </summary>
internal static class PlannerDriver
{
    public const long Frequency = 1_000_000;

    /// <summary>Runs until the planner is done, <paramref name="stopAfter"/> says stop (then calls Stop), or <paramref name="limit"/> of virtual time.</summary>
    public static (List<EmittedHop> Hops, List<SentProbe> Sent, double EndMilliseconds) Run(ITracePlanner planner,
        Func<int, int, int, FakeAnswer?> answer, Func<List<EmittedHop>, bool>? stopAfter = null, TimeSpan? limit = null)
    {
        var end = (long)((limit ?? TimeSpan.FromHours(1)).TotalSeconds * Frequency);
        var arrivals = new PriorityQueue<(int Id, FakeAnswer Answer), long>();
        var due = new List<PlannedProbe>();
        var hops = new List<Hop>();
        var emitted = new List<EmittedHop>();
        var sent = new List<SentProbe>();
        long now = 0;
        while (!planner.IsDone && now < end)
        {
            while (arrivals.TryPeek(out var arrival, out var at) && at <= now)
            {
                arrivals.Dequeue();
                var a = arrival.Answer;
                planner.OnAnswer(arrival.Id, new TraceAnswer(a.Status, a.Responder, a.Code, a.RttMilliseconds, 60, 1));
            }
            planner.Update(now);
            due.Clear();
            planner.TakeDue(now, due);
            foreach (var probe in due)
            {
                sent.Add(new SentProbe(probe.Ttl, probe.Flow, now * 1000.0 / Frequency));
                planner.OnSent(probe.Id, now);
                if (answer(probe.Ttl, probe.Flow, sent.Count) is { } reply)
                {
                    arrivals.Enqueue((probe.Id, reply), now + (long)(reply.RttMilliseconds * Frequency / 1000));
                }
            }
            planner.Update(now);
            hops.Clear();
            planner.TakeFinishedHops(hops);
            emitted.AddRange(hops.Select(h => new EmittedHop(h, now * 1000.0 / Frequency)));
            if (stopAfter?.Invoke(emitted) == true)
            {
                planner.Stop();
                break;
            }
            if (planner.IsDone)
            {
                break;
            }
            var next = planner.NextWake;
            if (arrivals.TryPeek(out _, out var nextArrival))
            {
                next = Math.Min(next, nextArrival);
            }
            Assert.NotEqual(long.MaxValue, next);
            now = Math.Max(now, next);
        }
        return (emitted, sent, now * 1000.0 / Frequency);
    }
}
