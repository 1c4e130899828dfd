using IcmpTools.Fuzz;
using Xunit;

namespace IcmpTools.Engine.Tests.Fuzz;

/// <summary>
/// Replays the fuzz corpus (tests/IcmpTools.Fuzz/corpus/&lt;target&gt;) through the fuzz targets on every test run:
/// the seeds, and every input afl-fuzz ever found (saved there as finding-*), must decode without a throw or a
/// broken invariant. bench/fuzz.sh does the fuzzing; this keeps what it found fixed.
/// </summary>
public sealed class FuzzCorpusTests
{
    private static string CorpusRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "IcmpTools.sln")))
            {
                dir = dir.Parent;
            }
            return Path.Combine(dir?.FullName ?? throw new InvalidOperationException("IcmpTools.sln not found above the test binaries."),
                "tests", "IcmpTools.Fuzz", "corpus");
        }
    }

    public static TheoryData<string, string> Inputs()
    {
        var data = new TheoryData<string, string>();
        foreach (var target in FuzzTargets.All.Keys)
        {
            foreach (var file in Directory.EnumerateFiles(Path.Combine(CorpusRoot, target)).Order(StringComparer.Ordinal))
            {
                data.Add(target, Path.GetFileName(file));
            }
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Inputs))]
    public void EveryCorpusInputDecodesWithoutAThrow(string target, string input)
    {
        var bytes = File.ReadAllBytes(Path.Combine(CorpusRoot, target, input));

        var thrown = Record.Exception(() => FuzzTargets.All[target](bytes));

        Assert.Null(thrown);
    }

    [Fact]
    public void EveryTargetHasSeeds()
    {
        Assert.All(FuzzTargets.All.Keys, target => Assert.NotEmpty(Directory.EnumerateFiles(Path.Combine(CorpusRoot, target))));
    }

    [Fact]
    public void TheProberTargetReachesMatching()
    {
        // A seed that stamps a sent probe's identifiers into an echo reply must answer it: without this the
        // prober target would only ever fuzz the "no such probe" path.
        var bytes = File.ReadAllBytes(Path.Combine(CorpusRoot, "prober", "v4-echo-reply"));
        var before = FuzzTargets.ProberAnswers;

        FuzzTargets.All["prober"](bytes);

        Assert.True(FuzzTargets.ProberAnswers > before);
    }
}
