using IcmpTools.TestSupport;
using Xunit;

namespace IcmpTools.Tests;

/// <summary>
/// Trace-IcmpRoute -Rounds without privilege: as uid 65534 on datagram sockets (errors from the error queue),
/// the rounds, their statistics and traceroute's marks come out as with root.
/// </summary>
public sealed class UnprivilegedRoundsTests(UnprivilegedLabFixture fixture) : IClassFixture<UnprivilegedLabFixture>
{
    [SkippableFact]
    public void RoundsAndMarksWorkOnDatagramSockets()
    {
        const string Script = """
            Trace-IcmpRoute 198.18.4.2, 2001:db8:4::2, 198.18.12.7, 2001:db8:12::7 -Rounds 3 -IntervalSeconds 0.05 -Verbose |
                ForEach-Object { "$($_.Target) $($_.Distance) round=$($_.Round) sent=$($_.PacketsSent) received=$($_.PacketsReceived) $($_.Annotation)".TrimEnd() }
            """;

        var run = OutOfProcess.Run(fixture.Lab.Name + "-c", Script, unprivileged: true);

        Assert.True(run.Errors.Count == 0, run.ToString());
        Assert.Contains(run.Verbose, v => v.Contains("IPv4 (datagram)", StringComparison.Ordinal));
        var hops = run.Objects.Select(o => o.GetString()!).ToList();
        Assert.Contains("198.18.4.2 1 round=3 sent=3 received=3", hops);
        Assert.Contains("198.18.4.2 4 round=3 sent=3 received=3", hops);
        Assert.Contains("2001:db8:4::2 4 round=3 sent=3 received=3", hops);
        Assert.Contains("198.18.12.7 2 round=3 sent=3 received=3 !H", hops);
        Assert.Contains("2001:db8:12::7 2 round=3 sent=3 received=3 !N", hops);
        // The report: one line per distance, 4 + 4 + 2 + 2.
        Assert.Equal(12, hops.Count);
    }
}
