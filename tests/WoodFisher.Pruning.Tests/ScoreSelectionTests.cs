using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// Selection by radix select against the rule it implements, written as a full sort: among the prunable kept coordinates,
/// remove the round(s·n) − (already pruned) of lowest (score, index), scores compared by <see cref="double.CompareTo(double)"/>.
/// </summary>
public class ScoreSelectionTests
{
    /// <summary>The sorting oracle: the rule of <see cref="MaskSelection"/> by OrderBy(score).ThenBy(index).</summary>
    private static bool[] SortOracle(double[] scores, bool[]? mask, double sparsity, SelectionMode mode, int[] segments, bool[]? prunable)
    {
        var result = mask is null ? Enumerable.Repeat(true, scores.Length).ToArray() : (bool[])mask.Clone();
        var starts = new int[segments.Length];
        for (var s = 1; s < segments.Length; s++)
        {
            starts[s] = starts[s - 1] + segments[s - 1];
        }

        var pools = mode == SelectionMode.Global
            ? [Enumerable.Range(0, segments.Length).Where(s => prunable is null || prunable[s]).ToArray()]
            : Enumerable.Range(0, segments.Length).Where(s => prunable is null || prunable[s]).Select(s => new[] { s }).ToArray();
        foreach (var pool in pools)
        {
            var coords = pool.SelectMany(s => Enumerable.Range(starts[s], segments[s])).ToArray();
            var pruned = coords.Count(i => !result[i]);
            var count = (int)Math.Round(sparsity * coords.Length, MidpointRounding.AwayFromZero) - pruned;
            foreach (var i in coords.Where(i => result[i]).OrderBy(i => scores[i], Comparer<double>.Default).ThenBy(i => i).Take(Math.Max(0, count)))
            {
                result[i] = false;
            }
        }

        return result;
    }

    /// <summary>Scores with heavy ties, ±0, ±∞ and subnormals, so every digit of the radix select matters.</summary>
    private static double[] HostileScores(Random rng, int d)
    {
        double[] specials = [0.0, -0.0, double.PositiveInfinity, double.NegativeInfinity, double.Epsilon, -double.Epsilon, 1.0, 1.0 + 1e-16, 1.0 + 2.2e-16, double.MaxValue, -double.MaxValue];
        var scores = new double[d];
        for (var i = 0; i < d; i++)
        {
            scores[i] = rng.Next(4) switch
            {
                0 => specials[rng.Next(specials.Length)],
                1 => rng.Next(5) * 0.25,
                2 => -rng.NextDouble(),
                _ => rng.NextDouble() * Math.Pow(10, rng.Next(-300, 300)),
            };
        }

        return scores;
    }

    [Test]
    public void Select_EqualsTheSortingRule_OnHostileScores([Range(0, 39)] int seed)
    {
        var rng = new Random(seed);
        var segments = Enumerable.Range(0, 1 + rng.Next(4)).Select(_ => 1 + rng.Next(60)).ToArray();
        var d = segments.Sum();
        var scores = HostileScores(rng, d);
        var mask = seed % 3 == 0 ? null : Enumerable.Range(0, d).Select(_ => rng.Next(5) != 0).ToArray();
        var prunable = seed % 4 == 1 ? segments.Select((_, s) => s != 0).ToArray() : null;
        var sparsity = rng.Next(5) == 0 ? 0.0 : rng.NextDouble() * 0.999;
        foreach (var mode in new[] { SelectionMode.Global, SelectionMode.LayerwiseUniform })
        {
            Assert.That(MaskSelection.Select(scores, mask, sparsity, mode, segments, prunable),
                Is.EqualTo(SortOracle(scores, mask, sparsity, mode, segments, prunable)), $"{mode}, s = {sparsity}, segments {string.Join(",", segments)}");
        }
    }

    // Enough candidates for the histogram to split across cores (≥ 2 × 2¹⁸), with ties straddling the threshold.
    [Test]
    public void Select_EqualsTheSortingRule_AtParallelSizes()
    {
        var rng = new Random(9);
        const int d = 700_000;
        var scores = Enumerable.Range(0, d).Select(_ => (double)rng.Next(1000) / 7).ToArray();
        var mask = Enumerable.Range(0, d).Select(_ => rng.Next(10) != 0).ToArray();
        int[] segments = [300_000, 400_000];
        Assert.That(MaskSelection.Select(scores, mask, 0.61, SelectionMode.Global, segments),
            Is.EqualTo(SortOracle(scores, mask, 0.61, SelectionMode.Global, segments, null)));
    }

    [Test]
    public void Key_OrdersAsCompareTo()
    {
        double[] ordered = [double.NegativeInfinity, -double.MaxValue, -1, -double.Epsilon, 0, double.Epsilon, 1, double.MaxValue, double.PositiveInfinity];
        Assert.Multiple(() =>
        {
            for (var i = 1; i < ordered.Length; i++)
            {
                Assert.That(ScoreSelection.Key(ordered[i - 1]), Is.LessThan(ScoreSelection.Key(ordered[i])), $"{ordered[i - 1]} < {ordered[i]}");
            }

            Assert.That(ScoreSelection.Key(-0.0), Is.EqualTo(ScoreSelection.Key(0.0)), "−0 = +0 as CompareTo has it");
        });
    }

    [Test]
    public void Select_ReturnsTheThresholdAndHowManyTiesItTakes()
    {
        double[] scores = [3, 1, 2, 2, 2, 5];
        int[] candidates = [0, 1, 2, 3, 4, 5];
        var (threshold, ties) = ScoreSelection.Select(scores, candidates, 3);
        Assert.Multiple(() =>
        {
            Assert.That(threshold, Is.EqualTo(ScoreSelection.Key(2)));
            Assert.That(ties, Is.EqualTo(2), "1 below the threshold, then two of the three 2s");
        });
    }
}
