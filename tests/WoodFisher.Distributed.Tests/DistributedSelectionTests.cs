using WoodFisher.Pruning;

namespace WoodFisher.Distributed.Tests;

/// <summary>
/// The distributed threshold against its oracle, <see cref="MaskSelection.Select"/> on the whole vector: the same mask
/// bit for bit, over many rank counts, uneven and empty ranges, heavy ties, all-equal scores, signed zeros and
/// infinities, pre-pruned masks, layer-wise selection and non-prunable segments.
/// </summary>
public class DistributedSelectionTests
{
    /// <summary>Cuts [0, d) into <paramref name="ranks"/> ranges at random points (some empty).</summary>
    private static int[] Cuts(Random rng, int d, int ranks)
    {
        var cuts = new int[ranks + 1];
        cuts[ranks] = d;
        var inner = Enumerable.Range(0, ranks - 1).Select(_ => rng.Next(d + 1)).Order().ToArray();
        inner.CopyTo(cuts, 1);
        return cuts;
    }

    private static bool[] Distributed(double[] scores, bool[] mask, int[] cuts, double sparsity, SelectionMode mode, int[]? segments, bool[]? prunable)
    {
        var ranks = cuts.Length - 1;
        var parts = InProcessCommunicator.Run(ranks, comm =>
        {
            var lo = cuts[comm.Rank];
            var hi = cuts[comm.Rank + 1];
            return DistributedSelection.Select(comm, lo, scores.Length, scores.AsSpan(lo, hi - lo), mask.Length == 0 ? [] : mask.AsSpan(lo, hi - lo), sparsity, mode, segments, prunable).Mask;
        });
        return [.. parts.SelectMany(p => p)];
    }

    [Test]
    public void RandomScoresWithTies_EqualSingleProcessSelection([Values(1, 2, 3, 5, 8)] int ranks, [Values(SelectionMode.Global, SelectionMode.LayerwiseUniform)] SelectionMode mode)
    {
        var rng = new Random(ranks * 31 + (int)mode);
        for (var trial = 0; trial < 25; trial++)
        {
            var d = rng.Next(1, 400);
            // Few distinct values: most scores tie with others, across ranks.
            var levels = rng.Next(1, 12);
            var scores = Enumerable.Range(0, d).Select(_ => (double)rng.Next(levels) * (rng.Next(4) == 0 ? 1e-300 : 1.0)).ToArray();
            var mask = rng.Next(3) == 0 ? [] : Enumerable.Range(0, d).Select(_ => rng.Next(5) != 0).ToArray();
            var segments = Segments(rng, d);
            var prunable = rng.Next(2) == 0 ? null : segments.Select(_ => rng.Next(4) != 0).ToArray();
            var sparsity = rng.Next(4) == 0 ? 0.0 : rng.NextDouble() * 0.99;
            var expected = MaskSelection.Select(scores, mask, sparsity, mode, segments, prunable);
            var actual = Distributed(scores, mask, Cuts(rng, d, ranks), sparsity, mode, segments, prunable);
            Assert.That(actual, Is.EqualTo(expected), $"trial {trial}: d = {d}, s = {sparsity}, {segments.Length} segments");
        }
    }

    [Test]
    public void AllScoresEqual_PrunesTheLowestIndices([Values(2, 4, 7)] int ranks)
    {
        var d = 101;
        var scores = Enumerable.Repeat(0.25, d).ToArray();
        var expected = MaskSelection.Select(scores, [], 0.5);
        var actual = Distributed(scores, [], Cuts(new Random(ranks), d, ranks), 0.5, SelectionMode.Global, null, null);
        Assert.That(actual, Is.EqualTo(expected));
        Assert.That(actual.Take(51).All(k => !k) && actual.Skip(51).All(k => k), Is.True, "round(0.5·101) = 51 lowest indices pruned");
    }

    [Test]
    public void SignedZerosInfinitiesAndSubnormals_OrderAsDoubleCompareTo([Values(1, 3, 6)] int ranks)
    {
        double[] values = [0.0, -0.0, double.NegativeInfinity, double.PositiveInfinity, double.Epsilon, -double.Epsilon, 1e-310, -1e308, 3.5, -3.5, double.MaxValue, double.MinValue];
        var rng = new Random(7);
        var scores = Enumerable.Range(0, 240).Select(_ => values[rng.Next(values.Length)]).ToArray();
        foreach (var s in new[] { 0.1, 0.37, 0.5, 0.83, 0.999 })
        {
            var expected = MaskSelection.Select(scores, [], s);
            Assert.That(Distributed(scores, [], Cuts(rng, scores.Length, ranks), s, SelectionMode.Global, null, null), Is.EqualTo(expected), $"s = {s}");
        }
    }

    [Test]
    public void MoreRanksThanCoordinates_AndEmptyRanges_Work()
    {
        double[] scores = [3, 1, 2];
        var expected = MaskSelection.Select(scores, [], 0.6);
        Assert.That(Distributed(scores, [], [0, 0, 1, 1, 1, 3, 3, 3], 0.6, SelectionMode.Global, null, null), Is.EqualTo(expected));
    }

    [Test]
    public void Key_PreservesTheOrderOfDoubles()
    {
        double[] sorted = [double.NegativeInfinity, double.MinValue, -1, -double.Epsilon, 0, double.Epsilon, 1e-310, 1, double.MaxValue, double.PositiveInfinity];
        for (var i = 1; i < sorted.Length; i++)
        {
            Assert.That(DistributedSelection.Key(sorted[i - 1]), Is.LessThan(DistributedSelection.Key(sorted[i])), $"{sorted[i - 1]} < {sorted[i]}");
        }

        Assert.That(DistributedSelection.Key(-0.0), Is.EqualTo(DistributedSelection.Key(0.0)), "−0 ties with +0, as in double.CompareTo");
    }

    [Test]
    public void NaNOnOneRank_StopsEveryRankWithItsMessage()
    {
        var scores = Enumerable.Range(0, 30).Select(i => (double)i).ToArray();
        scores[25] = double.NaN;
        var ex = Assert.Throws<AggregateException>(() => Distributed(scores, [], [0, 10, 20, 30], 0.5, SelectionMode.Global, null, null));
        Assert.That(ex!.InnerExceptions, Has.Count.EqualTo(3).And.All.TypeOf<RankFailedException>());
        Assert.That(ex.InnerExceptions[0].Message, Does.StartWith("rank 2 of 3: Score 25 is NaN"));
    }

    [Test]
    public void RangesThatDoNotTile_AreRefused()
    {
        var scores = new double[10];
        var ex = Assert.Throws<AggregateException>(() => InProcessCommunicator.Run(2, comm =>
            DistributedSelection.Select(comm, comm.Rank == 0 ? 0 : 6, 10, scores.AsSpan(0, comm.Rank == 0 ? 5 : 4), [], 0.5)));
        Assert.That(ex!.InnerExceptions[0].Message, Does.Contain("contiguous ranges in rank order"));
    }

    [Test]
    public void Traffic_IsTheHistogramRoundsNotTheScores()
    {
        var rng = new Random(3);
        var d = 20_000;
        var scores = Enumerable.Range(0, d).Select(_ => rng.NextDouble()).ToArray();
        var traffic = InProcessCommunicator.Run(4, comm =>
        {
            var lo = comm.Rank * d / 4;
            var r = DistributedSelection.Select(comm, lo, d, scores.AsSpan(lo, d / 4), [], 0.9);
            return (r.Collectives, r.Bytes);
        });
        // Tiling check (16 B), counts (24 B), at most 8 histogram rounds of 2 KiB, one tie count (8 B).
        Assert.That(traffic.Select(t => t.Bytes), Has.All.LessThanOrEqualTo(16 + 24 + (8 * 2048) + 8));
        Assert.That(traffic.Select(t => t.Bytes).Distinct().Count(), Is.EqualTo(1), "every rank takes part in the same collectives");
    }

    private static int[] Segments(Random rng, int d)
    {
        var segments = new List<int>();
        var left = d;
        while (left > 0)
        {
            var s = Math.Min(left, rng.Next(1, Math.Max(2, d / 2)));
            segments.Add(s);
            left -= s;
        }

        return [.. segments];
    }
}
