using WoodFisher.Kernels;

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

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> unless 0 ≤ s &lt; 1.</summary>
    public static void CheckSparsity(double sparsity, string name = "sparsity")
    {
        if (!(sparsity >= 0 && sparsity < 1))
        {
            throw new ArgumentOutOfRangeException(name, sparsity, "Sparsity must lie in [0, 1).");
        }
    }

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
        var result = mask.IsEmpty ? Enumerable.Repeat(true, d).ToArray() : mask.ToArray();
        for (var i = 0; i < d; i++)
        {
            if (double.IsNaN(scores[i]))
            {
                throw new ArgumentException($"Score {i} is NaN; check the curvature estimate (a non-positive [H⁻¹]_qq?).", nameof(scores));
            }
        }

        var candidates = new List<int>();
        if (mode == SelectionMode.Global)
        {
            var n = 0;
            var pruned = 0;
            var start = 0;
            for (var s = 0; s < segs.Length; s++)
            {
                if (prunable is null || prunable[s])
                {
                    Collect(result, start, segs[s], candidates, ref n, ref pruned);
                }

                start += segs[s];
            }

            RemoveSmallest(scores, result, candidates, TargetCount(sparsity, n) - pruned);
        }
        else
        {
            var start = 0;
            for (var s = 0; s < segs.Length; s++)
            {
                if (prunable is null || prunable[s])
                {
                    var n = 0;
                    var pruned = 0;
                    candidates.Clear();
                    Collect(result, start, segs[s], candidates, ref n, ref pruned);
                    RemoveSmallest(scores, result, candidates, TargetCount(sparsity, n) - pruned);
                }

                start += segs[s];
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

    private static void Collect(bool[] mask, int start, int length, List<int> candidates, ref int n, ref int pruned)
    {
        n += length;
        for (var i = start; i < start + length; i++)
        {
            if (mask[i])
            {
                candidates.Add(i);
            }
            else
            {
                pruned++;
            }
        }
    }

    private static void RemoveSmallest(ReadOnlySpan<double> scores, bool[] mask, List<int> candidates, int count)
    {
        if (count <= 0)
        {
            return;
        }

        var idx = candidates.ToArray();
        var keys = new double[idx.Length];
        for (var i = 0; i < idx.Length; i++)
        {
            keys[i] = scores[idx[i]];
        }

        // Candidates are in increasing index order; sorting (score, index) pairs makes ties go to the lower index.
        var order = new int[idx.Length];
        for (var i = 0; i < order.Length; i++)
        {
            order[i] = i;
        }

        Array.Sort(order, (a, b) =>
        {
            var c = keys[a].CompareTo(keys[b]);
            return c != 0 ? c : a.CompareTo(b);
        });
        for (var i = 0; i < count && i < order.Length; i++)
        {
            mask[idx[order[i]]] = false;
        }
    }
}
