namespace IcmpTools.Engine.Models;

/// <summary>
/// Running statistics of a series of RTTs in milliseconds, kept without the series: a trace that runs for
/// days (-Continuous) holds a few numbers per hop, not every RTT. The mean and variance follow Welford's
/// update; jitter is the mean absolute difference of consecutive RTTs, as the Host model defines it.
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
    /// <summary>Population standard deviation.</summary>
    public double? StdDevOrNull => Count == 0 ? null : Math.Sqrt(Math.Max(0, M2 / Count));
    public double? JitterOrNull => Count == 0 ? null : Count < 2 ? 0 : JitterSum / (Count - 1);
}
