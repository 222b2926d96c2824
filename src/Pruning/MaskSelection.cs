using WoodFisher.Kernels;
using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning;

/// <summary>
/// Chooses which weights to prune from their scores. Masks are bool per coordinate, true = kept, false = pruned: the
/// convention of every mask in this library (<see cref="PruningResult.Mask"/>, <see cref="IInverseCurvature.ObsUpdate"/>,
/// <see cref="ObsWeightUpdate"/>) and of PyTorch's pruning masks. Weights already
/// pruned (mask false) stay pruned and count towards the target; the remaining ones are removed in increasing order of
/// score, ties broken by the lower index first. The target count is round(s · n) (midpoint away from zero), n = the
/// number of prunable coordinates (globally, or per segment in <see cref="SelectionMode.LayerwiseUniform"/>).
/// </summary>
public static class MaskSelection
{
    /// <summary>Number of coordinates to prune: round(s · n), midpoints away from zero.</summary>
    public static int TargetCount(double sparsity, int count)
    {
        CheckSparsity(sparsity);
        return (int)Math.Round(sparsity * count, MidpointRounding.AwayFromZero);
    }

    /// <summary>Returns <paramref name="sparsity"/>; throws <see cref="ArgumentOutOfRangeException"/> unless 0 ≤ s &lt; 1.</summary>
    public static double CheckSparsity(double sparsity, string name = "sparsity") =>
        sparsity >= 0 && sparsity < 1 ? sparsity : throw new ArgumentOutOfRangeException(name, sparsity, "Sparsity must lie in [0, 1).");

    /// <summary>
    /// The new mask (length d, true = kept, false = pruned).
    /// </summary>
    /// <param name="scores">ρ (length d, not NaN); lower = pruned first.</param>
    /// <param name="mask">Current mask (length d, true = kept, false = pruned) or empty for all kept.</param>
    /// <param name="sparsity">Target s ∈ [0, 1).</param>
    /// <param name="mode">Global threshold or the same sparsity in every segment.</param>
    /// <param name="segments">Segment (layer) lengths summing to d; null = one segment.</param>
    /// <param name="prunable">Per segment, whether it may be pruned (e.g. false for biases); null = all.</param>
    public static bool[] Select(ReadOnlySpan<double> scores, ReadOnlySpan<bool> mask, double sparsity, SelectionMode mode = SelectionMode.Global, IReadOnlyList<int>? segments = null, IReadOnlyList<bool>? prunable = null)
    {
        CheckSparsity(sparsity);
        var d = scores.Length;
        if (!mask.IsEmpty && mask.Length != d)
        {
            throw new ArgumentException($"Mask has length {mask.Length}, but there are d = {d} scores.", nameof(mask));
        }

        var segs = CheckSegments(segments, d, prunable);
        var result = mask.IsEmpty ? new bool[d] : mask.ToArray();
        if (mask.IsEmpty)
        {
            Array.Fill(result, true);
        }

        for (var i = 0; i < d; i++)
        {
            if (double.IsNaN(scores[i]))
            {
                throw new ArgumentException($"Score {i} is NaN; check the curvature estimate (a non-positive [H⁻¹]_qq?).", nameof(scores));
            }
        }

        if (mode == SelectionMode.Global)
        {
            var take = new bool[segs.Length];
            for (var s = 0; s < segs.Length; s++)
            {
                take[s] = prunable is null || prunable[s];
            }

            RemoveSmallest(scores, result, segs, take, sparsity);
        }
        else
        {
            for (var s = 0; s < segs.Length; s++)
            {
                if (prunable is null || prunable[s])
                {
                    var take = new bool[segs.Length];
                    take[s] = true;
                    RemoveSmallest(scores, result, segs, take, sparsity);
                }
            }
        }

        return result;
    }

    /// <summary>Fraction of pruned coordinates (mask false) in each segment.</summary>
    /// <param name="mask">Mask (length d, true = kept, false = pruned).</param>
    /// <param name="segments">Segment (layer) lengths summing to d; null = one segment.</param>
    public static double[] SegmentSparsity(ReadOnlySpan<bool> mask, IReadOnlyList<int>? segments = null)
    {
        var segs = CheckSegments(segments, mask.Length, null);
        var r = new double[segs.Length];
        var start = 0;
        for (var s = 0; s < segs.Length; s++)
        {
            var pruned = 0;
            for (var i = start; i < start + segs[s]; i++)
            {
                if (!mask[i])
                {
                    pruned++;
                }
            }

            r[s] = (double)pruned / segs[s];
            start += segs[s];
        }

        return r;
    }

    /// <summary>Fraction of pruned coordinates over the prunable segments (all when <paramref name="prunable"/> is null).</summary>
    /// <param name="mask">Mask (length d, true = kept, false = pruned).</param>
    /// <param name="segments">Segment (layer) lengths summing to d; null = one segment.</param>
    /// <param name="prunable">Per segment, whether it counts; null = all.</param>
    public static double Sparsity(ReadOnlySpan<bool> mask, IReadOnlyList<int>? segments = null, IReadOnlyList<bool>? prunable = null)
    {
        var segs = CheckSegments(segments, mask.Length, prunable);
        long n = 0;
        long pruned = 0;
        var start = 0;
        for (var s = 0; s < segs.Length; s++)
        {
            if (prunable is null || prunable[s])
            {
                n += segs[s];
                for (var i = start; i < start + segs[s]; i++)
                {
                    if (!mask[i])
                    {
                        pruned++;
                    }
                }
            }

            start += segs[s];
        }

        return n == 0 ? 0 : (double)pruned / n;
    }

    /// <summary>Validates segment lengths (all ≥ 1, summing to d) and the prunable flags; returns the segments.</summary>
    public static int[] CheckSegments(IReadOnlyList<int>? segments, int dimension, IReadOnlyList<bool>? prunable)
    {
        // BlockLayout already validates segment lengths (≥ 1, summing to d) with a clear message.
        int[] segs = [.. BlockLayout.Create(dimension, Math.Max(dimension, 1), segments).Segments];
        if (prunable is not null && prunable.Count != segs.Length)
        {
            throw new ArgumentException($"There are {prunable.Count} prunable flags for {segs.Length} segments.", nameof(prunable));
        }

        return segs;
    }

    /// <summary>
    /// Over the coordinates of the segments <paramref name="take"/> marks (n of them): prunes the kept ones of lowest
    /// (score, index) until round(s·n) are pruned, counting those already pruned.
    /// </summary>
    private static void RemoveSmallest(ReadOnlySpan<double> scores, bool[] mask, int[] segments, bool[] take, double sparsity)
    {
        var n = 0;
        var pruned = 0;
        var start = 0;
        for (var s = 0; s < segments.Length; s++)
        {
            if (take[s])
            {
                n += segments[s];
                pruned += segments[s] - CountKept(mask, start, segments[s]);
            }

            start += segments[s];
        }

        var count = TargetCount(sparsity, n) - pruned;
        if (count <= 0)
        {
            return;
        }

        var candidates = new int[n - pruned];
        var c = 0;
        start = 0;
        for (var s = 0; s < segments.Length; s++)
        {
            if (take[s])
            {
                for (var i = start; i < start + segments[s]; i++)
                {
                    if (mask[i])
                    {
                        candidates[c++] = i;
                    }
                }
            }

            start += segments[s];
        }

        if (count >= candidates.Length)
        {
            foreach (var i in candidates)
            {
                mask[i] = false;
            }

            return;
        }

        // The count-th smallest key, then every candidate below it and the first of those equal to it in index order:
        // exactly the first count candidates of a sort by (score, index).
        var (threshold, ties) = ScoreSelection.Select(scores, candidates, count);
        foreach (var i in candidates)
        {
            var k = ScoreSelection.Key(scores[i]);
            if (k < threshold || (k == threshold && ties-- > 0))
            {
                mask[i] = false;
            }
        }
    }

    private static int CountKept(bool[] mask, int start, int length)
    {
        var kept = 0;
        for (var i = start; i < start + length; i++)
        {
            kept += mask[i] ? 1 : 0;
        }

        return kept;
    }
}
