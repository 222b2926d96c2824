namespace WoodFisher.Pruning;

/// <summary>
/// Chooses which groups of a structured <see cref="PruningPattern"/> to prune, by OBS group cost
/// (<see cref="ObsGroupCost"/>) at the current weights; the mask convention is <see cref="MaskSelection"/>'s (true = kept,
/// pruned weights stay pruned and count towards the target).
/// </summary>
/// <remarks>
/// <para><b>N:M</b>: in each group of M consecutive inputs of a row, the M − N weights to prune (fewer when some are already
/// pruned) are the subset with the least joint cost, found <b>exactly</b> by trying every subset when there are at most
/// <see cref="ExactSubsets"/> of them (2:4 has 6, 4:8 has 70, 1:4 has 4) and <b>greedily</b> otherwise (add the weight
/// whose addition costs least, one at a time). Exact is affordable for the patterns that matter and is optimal for the
/// group's own quadratic model, where greedy can miss pairs that are cheap only together (correlated weights); neither
/// sees the other groups of the same block, which the joint update then accounts for. Groups are pruned whole, cheapest
/// per pruned weight first, until the step's target: the last recompute step completes every group.</para>
/// <para><b>Blocks</b> (R × C tiles) and <b>neurons</b> (a unit's incoming weights and its bias, when the bias is a coordinate)
/// are removed whole, cheapest first across all layers (globally) or within each layer (layerwise). Tiles are ranked by cost
/// per pruned weight (tiles at the matrix edge are smaller) and counted in weights; units are ranked by their cost and counted
/// in units (the sparsity of the neuron pattern is the fraction of units removed), the last prunable weight (the classifier,
/// whose units are the outputs) is not a candidate, and every layer keeps at least one unit.</para>
/// </remarks>
public static partial class PatternSelection
{
    /// <summary>Most subsets an N:M group is searched exhaustively over.</summary>
    public const int ExactSubsets = 1000;

    /// <summary>
    /// The new mask (length d, true = kept) for target <paramref name="sparsity"/>: of prunable weights for N:M and blocks, of
    /// units for neurons. <paramref name="scores"/>, when given (length d), receives for each coordinate of a candidate group
    /// its group's cost (per pruned weight for N:M and blocks, per unit for neurons; 0 where already pruned); the other
    /// coordinates keep their values.
    /// </summary>
    /// <param name="pattern">A structured pattern.</param>
    /// <param name="layout">Segments, shapes and prunable flags.</param>
    /// <param name="weights">w at which the costs are taken (WoodTaylor passes w − ηH⁻¹g).</param>
    /// <param name="inverse">H⁻¹.</param>
    /// <param name="mask">Current mask (length d) or empty for all kept.</param>
    /// <param name="sparsity">Target s ∈ [0, 1); for N:M, s ≥ (M − N)/M completes every group.</param>
    /// <param name="mode">Global (default) or the same target in every layer.</param>
    /// <param name="scores">Optional output of the group costs.</param>
    /// <exception cref="ArgumentException">Lengths disagree, or the pattern needs shapes the layout lacks.</exception>
    public static bool[] Select(PruningPattern pattern, PatternLayout layout, ReadOnlySpan<double> weights, IInverseCurvature inverse,
        ReadOnlySpan<bool> mask, double sparsity, SelectionMode mode = SelectionMode.Global, Span<double> scores = default)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(inverse);
        MaskSelection.CheckSparsity(sparsity);
        var d = layout.Dimension;
        if (weights.Length != d || inverse.Dimension != d || (!mask.IsEmpty && mask.Length != d) || (!scores.IsEmpty && scores.Length != d))
            throw new ArgumentException($"Weights, H⁻¹, mask and scores must all have d = {d} coordinates; got {weights.Length}, {inverse.Dimension}, {mask.Length} and {scores.Length}.");
        if (!pattern.IsStructured)
            throw new ArgumentException("Unstructured selection is MaskSelection.Select over per-weight scores.", nameof(pattern));
        if (pattern.Kind is PatternKind.Block or PatternKind.Neurons && !layout.HasShapes)
            throw new ArgumentException($"The {pattern} pattern needs the tensors' shapes (rows = output units).", nameof(layout));

        var result = mask.IsEmpty ? Enumerable.Repeat(true, d).ToArray() : mask.ToArray();
        var candidates = Candidates(pattern, layout, weights, inverse, result);
        foreach (var c in candidates)
        {
            if (!scores.IsEmpty)
            {
                foreach (var i in c.Group)
                    scores[i] = result[i] ? c.Cost : 0;
            }
        }

        var matrices = mode == SelectionMode.Global ? [layout.Matrices.Select((_, i) => i).ToArray()] : layout.Matrices.Select((_, i) => new[] { i }).ToArray();
        foreach (var set in matrices)
        {
            var members = set.ToHashSet();
            var pool = candidates.Where(c => members.Contains(c.Matrix)).OrderBy(c => c.Cost).ThenBy(c => c.Group[0]).ToList();
            if (pattern.Kind == PatternKind.Neurons)
                RemoveUnits(layout, set, pool, result, sparsity);
            else
                RemoveWeights(pattern, layout, set, pool, result, sparsity);
        }

        return result;
    }

    /// <summary>The pattern's measure of sparsity: the fraction of units removed for neurons (over the candidate layers), of prunable weights otherwise.</summary>
    public static double Sparsity(PruningPattern pattern, PatternLayout layout, ReadOnlySpan<bool> mask)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(layout);
        if (mask.IsEmpty)
            return 0;
        if (pattern.Kind != PatternKind.Neurons)
        {
            long pruned = 0;
            foreach (var m in layout.Matrices)
            {
                foreach (var keep in mask.Slice(m.Offset, m.Rows * m.Columns))
                    pruned += keep ? 0 : 1;
            }

            return layout.PrunableCount == 0 ? 0 : (double)pruned / layout.PrunableCount;
        }

        var (units, removed) = (0, 0);
        for (var k = 0; k + 1 < layout.Matrices.Count; k++)
        {
            var m = layout.Matrices[k];
            units += m.Rows;
            for (var r = 0; r < m.Rows; r++)
                removed += UnitRemoved(m, r, mask) ? 1 : 0;
        }

        return units == 0 ? 0 : (double)removed / units;
    }

    /// <summary>Whether all of unit r's incoming weights are pruned.</summary>
    public static bool UnitRemoved(PatternMatrix m, int r, ReadOnlySpan<bool> mask) => !mask.Slice(m.Offset + (r * m.Columns), m.Columns).Contains(true);

    private static void RemoveWeights(PruningPattern p, PatternLayout layout, int[] set, List<Candidate> pool, bool[] mask, double sparsity)
    {
        long n = 0, pruned = 0;
        foreach (var k in set)
        {
            var m = layout.Matrices[k];
            n += (long)m.Rows * m.Columns;
            for (var i = m.Offset; i < m.Offset + (m.Rows * m.Columns); i++)
                pruned += mask[i] ? 0 : 1;
        }

        var all = p.Kind == PatternKind.NofM && sparsity >= p.NofMSparsity - 1e-12;
        var target = (long)Math.Round(sparsity * n, MidpointRounding.AwayFromZero);
        foreach (var c in pool)
        {
            // Whole groups, cheapest first, while the next one brings the count closer to the target.
            if (!all && 2 * (target - pruned) < c.Prune.Length)
                break;
            foreach (var i in c.Prune)
                mask[i] = false;
            pruned += c.Prune.Length;
        }
    }

    private static void RemoveUnits(PatternLayout layout, int[] set, List<Candidate> pool, bool[] mask, double sparsity)
    {
        var last = layout.Matrices.Count - 1;
        var alive = new Dictionary<int, int>();
        var (units, removed) = (0, 0);
        foreach (var k in set.Where(k => k != last))
        {
            var m = layout.Matrices[k];
            units += m.Rows;
            var gone = Enumerable.Range(0, m.Rows).Count(r => UnitRemoved(m, r, mask));
            removed += gone;
            alive[k] = m.Rows - gone;
        }

        var target = (int)Math.Round(sparsity * units, MidpointRounding.AwayFromZero);
        foreach (var c in pool)
        {
            if (removed >= target)
                break;
            if (alive[c.Matrix] <= 1)
                continue;
            foreach (var i in c.Prune)
                mask[i] = false;
            alive[c.Matrix]--;
            removed++;
        }
    }

    /// <summary>The target sparsity of a pruner run: the options', at most N:M's own (M − N)/M.</summary>
    internal static double Target(PrunerOptions o) => o.Pattern.Kind == PatternKind.NofM ? Math.Min(o.Sparsity, o.Pattern.NofMSparsity) : o.Sparsity;

    /// <summary>The sparsity the schedule and the steps count: the pattern's measure, or the weight sparsity over the prunable segments.</summary>
    internal static double Measure(PrunerOptions o, PatternLayout? layout, bool[] mask, int[] segments) =>
        layout is null ? MaskSelection.Sparsity(mask, segments, o.PrunableSegments) : Sparsity(o.Pattern, layout, mask);

    /// <summary>
    /// One step's selection: <see cref="MaskSelection.Select"/> over the per-weight scores for unstructured pruning, else the
    /// pattern's group selection at w (w − ηH⁻¹g for WoodTaylor), whose group costs replace <paramref name="scores"/>.
    /// </summary>
    internal static bool[] ForStep(PrunerOptions o, PatternLayout? layout, double[] scores, double[] w, double[]? step, IInverseCurvature inverse, bool[] mask, double sparsity, int[] segments)
    {
        if (layout is null)
            return MaskSelection.Select(scores, mask, sparsity, o.Selection, segments, o.PrunableSegments);
        var at = w;
        if (step is not null)
        {
            at = new double[w.Length];
            for (var i = 0; i < w.Length; i++)
                at[i] = w[i] - step[i];
        }

        return Select(o.Pattern, layout, at, inverse, mask, Math.Min(sparsity, 1 - 1e-12), o.Selection, scores);
    }
}
