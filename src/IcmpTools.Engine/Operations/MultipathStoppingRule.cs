namespace IcmpTools.Engine.Operations;

/// <summary>
/// The Multipath Detection Algorithm's stopping rule (Veitch, Augustin, Friedman, Teixeira: "Failure
/// control in multipath route tracing", 2009): after k distinct next hops have been seen, n_k probes on
/// distinct flows are enough to rule out a (k+1)-th at the given confidence, assuming a balancer spreads
/// flows evenly. n_k is the least n for which k+1 equally likely next hops would leave at least one unseen
/// with probability at most 1 - confidence; by inclusion-exclusion that probability is
/// sum_{i=1..k} (-1)^(i+1) C(k+1, i) ((k+1-i)/(k+1))^n. For 95 %: 6, 11, 16, 21, 27, 33, 38, 44, 51, 57.
/// </summary>
public sealed class MultipathStoppingRule
{
    private readonly double _failure;
    private readonly List<int> _table = [0];

    /// <summary>The confidence of scamper's tracelb and Paris traceroute's MDA by default: 95 %.</summary>
    public const double DefaultConfidence = 0.95;

    public MultipathStoppingRule(double confidence = DefaultConfidence)
    {
        if (!(confidence > 0 && confidence < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(confidence), confidence, "The confidence must be between 0 and 1, exclusive.");
        }
        _failure = 1 - confidence;
    }

    /// <summary>The rule at 95 % confidence, shared: it only grows a cache, under its own lock.</summary>
    public static MultipathStoppingRule Default { get; } = new();

    /// <summary>Probes needed to rule out one more next hop after <paramref name="seen"/> distinct ones (seen ≥ 1).</summary>
    public int ProbesNeeded(int seen)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(seen, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seen, 1024);
        lock (_table)
        {
            while (_table.Count <= seen)
            {
                var k = _table.Count;
                // n_k grows with k, so the search starts from n_(k-1).
                var n = Math.Max(k + 1, _table[k - 1]);
                while (MissProbability(k + 1, n) > _failure)
                {
                    n++;
                }
                _table.Add(n);
            }
            return _table[seen];
        }
    }

    /// <summary>Probability that <paramref name="probes"/> uniform draws over <paramref name="hops"/> values miss at least one.</summary>
    internal static double MissProbability(int hops, int probes)
    {
        // Inclusion-exclusion over the set of hops missed; terms alternate and shrink fast, and doubles
        // carry them exactly enough for the few dozen hops a router fans out to.
        double sum = 0;
        double binomial = 1;
        for (var i = 1; i < hops; i++)
        {
            binomial = binomial * (hops - i + 1) / i;
            var term = binomial * Math.Pow((double)(hops - i) / hops, probes);
            sum += (i % 2 == 1) ? term : -term;
        }
        return sum;
    }
}
