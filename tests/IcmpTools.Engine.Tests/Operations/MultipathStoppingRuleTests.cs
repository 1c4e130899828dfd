using IcmpTools.Engine.Operations;
using Xunit;

namespace IcmpTools.Engine.Tests.Operations;

public sealed class MultipathStoppingRuleTests
{
    [Fact]
    public void NinetyFivePercentGivesThePublishedTable()
    {
        // Veitch et al., Table 1 (alpha = 0.05), as scamper's tracelb and Paris traceroute's MDA use it.
        int[] published = [6, 11, 16, 21, 27, 33, 38, 44, 51, 57];

        Assert.Equal(published, Enumerable.Range(1, published.Length).Select(MultipathStoppingRule.Default.ProbesNeeded));
    }

    [Fact]
    public void EachCountIsTheLeastThatMeetsTheConfidence()
    {
        for (var k = 1; k <= 20; k++)
        {
            var n = MultipathStoppingRule.Default.ProbesNeeded(k);
            Assert.True(MultipathStoppingRule.MissProbability(k + 1, n) <= 0.05, $"n_{k} = {n} misses too often");
            Assert.True(MultipathStoppingRule.MissProbability(k + 1, n - 1) > 0.05, $"n_{k} = {n} is not the least");
        }
    }

    [Fact]
    public void HigherConfidenceNeedsMoreProbes()
    {
        var strict = new MultipathStoppingRule(0.99);

        Assert.True(strict.ProbesNeeded(1) > MultipathStoppingRule.Default.ProbesNeeded(1));
        // Two equally likely hops both seen in n probes: 1 - 2^(1-n) >= 0.99 first at n = 8.
        Assert.Equal(8, strict.ProbesNeeded(1));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(double.NaN)]
    public void AConfidenceOutsideZeroToOneIsRefused(double confidence) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => new MultipathStoppingRule(confidence));
}
