namespace IcmpTools.Engine.Models;

/// <summary>
/// The one implementation of the RTT statistics that Host and Hop show (min, avg, max, population standard
/// deviation, jitter, last), so the two cannot drift apart. Running, kept without the series: a trace that
/// runs for days (-Continuous) holds a few numbers per hop, not every RTT. The mean and variance follow
/// Welford's update; jitter is icmplib's mean absolute difference of consecutive RTTs. A statistic with
/// nothing to measure is null, never 0: no RTT has no minimum, and one RTT has no pair to differ (icmplib
/// says jitter 0, which would read as a perfectly steady link).
/// </summary>
internal readonly record struct RttSummary(int Count, double Mean, double M2, double Min, double Max, double JitterSum, double Last)
{
    public static RttSummary Empty => new(0, 0, 0, double.NaN, double.NaN, 0, double.NaN);

    public static RttSummary Of(ReadOnlySpan<double> rtts)
    {
        var summary = Empty;
        foreach (var rtt in rtts)
        {
            summary = summary.Add(rtt);
        }
        return summary;
    }

    public RttSummary Add(double rtt)
    {
        var count = Count + 1;
        var delta = rtt - Mean;
        var mean = Mean + (delta / count);
        return new RttSummary(count, mean, M2 + (delta * (rtt - mean)),
            Count == 0 ? rtt : Math.Min(Min, rtt),
            Count == 0 ? rtt : Math.Max(Max, rtt),
            Count == 0 ? 0 : JitterSum + Math.Abs(rtt - Last),
            rtt);
    }

    public double? MinOrNull => Count == 0 ? null : Min;
    public double? MaxOrNull => Count == 0 ? null : Max;
    public double? AvgOrNull => Count == 0 ? null : Mean;
    public double? LastOrNull => Count == 0 ? null : Last;
    /// <summary>Population standard deviation (what ping prints as mdev): 0 for one RTT, which has no spread.</summary>
    public double? StdDevOrNull => Count == 0 ? null : Math.Sqrt(Math.Max(0, M2 / Count));
    /// <summary>Mean absolute difference of consecutive RTTs; null with fewer than two.</summary>
    public double? JitterOrNull => Count < 2 ? null : JitterSum / (Count - 1);
}
