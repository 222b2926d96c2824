using WoodFisher.Kernels;

namespace WoodFisher.Pruning;

/// <summary>
/// OBS cost of removing a group Q together: ρ_Q = ½ w_Qᵀ([H⁻¹]_QQ)⁻¹w_Q.
/// </summary>
/// <remarks>
/// Minimising the quadratic model ½δᵀHδ subject to w_Q + δ_Q = 0 gives δ = −H⁻¹E_Q([H⁻¹]_QQ)⁻¹w_Q (the joint update) and
/// the increase ½δᵀHδ = ½w_Qᵀ([H⁻¹]_QQ)⁻¹w_Q. For a single weight it is OBS's ρ_q = w_q²/(2[H⁻¹]_qq); with H⁻¹ = I it is
/// ½‖w_Q‖² (group magnitude). An estimate is block-diagonal in its <see cref="IInverseCurvature.Layout"/>, so a group
/// spanning several blocks costs the sum of its parts' costs, each from that block's sub-matrix. Coordinates of Q already
/// pruned (w = 0) belong in Q: they stay zero under the joint update, and the cost counts keeping them there. The solve
/// ([H⁻¹]_QQ)⁻¹w_Q is the joint update's own (<see cref="JointObsUpdate.Solve"/>: Cholesky, jitter only if that fails).
/// </remarks>
public static class ObsGroupCost
{
    /// <summary>ρ_Q for the global indices <paramref name="group"/> (any order, no repeats).</summary>
    /// <exception cref="ArgumentException">An index is outside [0, d) or repeated.</exception>
    public static double Compute(IInverseCurvature inverse, ReadOnlySpan<double> weights, ReadOnlySpan<int> group)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        var sorted = group.ToArray();
        Array.Sort(sorted);
        var g = new GroupCurvature(inverse, sorted);
        var all = new bool[sorted.Length];
        Array.Fill(all, true);
        return g.Cost(weights, all);
    }
}

/// <summary>The sub-matrices [H⁻¹]_QQ of one group Q, per block, fetched once; costs of any subset of Q from them.</summary>
internal sealed class GroupCurvature
{
    private readonly int[] _indices;
    private readonly (int Start, int Count, double[] Sub)[] _parts;
    private readonly int _largest;
    private readonly BlockLayout _layout;

    /// <summary>Fetches the sub-matrices for <paramref name="sortedIndices"/> (ascending, distinct).</summary>
    public GroupCurvature(IInverseCurvature inverse, int[] sortedIndices)
        : this(inverse.Layout, sortedIndices, [.. Split(inverse.Layout, sortedIndices).Select(p => inverse.SubMatrix(sortedIndices.AsSpan(p.Start, p.Count)))])
    {
    }

    /// <summary>From the sub-matrices already fetched, one per part of <see cref="Split"/>, in its order.</summary>
    public GroupCurvature(BlockLayout layout, int[] sortedIndices, ReadOnlySpan<double[]> subs)
    {
        _indices = sortedIndices;
        _layout = layout;
        var parts = Split(layout, sortedIndices);
        _parts = new (int, int, double[])[parts.Count];
        for (var i = 0; i < parts.Count; i++)
            _parts[i] = (parts[i].Start, parts[i].Count, subs[i]);
        _largest = parts.Count == 0 ? 0 : parts.Max(p => p.Count);
    }

    /// <summary>The group's global indices, ascending.</summary>
    public ReadOnlySpan<int> Indices => _indices;

    /// <summary>The runs of <paramref name="sortedIndices"/> (ascending, distinct, checked) inside one block each, as (first position, count).</summary>
    public static List<(int Start, int Count)> Split(BlockLayout layout, int[] sortedIndices)
    {
        var parts = new List<(int, int)>();
        var i = 0;
        while (i < sortedIndices.Length)
        {
            var q = sortedIndices[i];
            if (q < 0 || q >= layout.Dimension || (i > 0 && q <= sortedIndices[i - 1]))
                throw new ArgumentException($"Group index {q} is outside [0, {layout.Dimension}) or repeated.", nameof(sortedIndices));
            var (block, _) = layout.Locate(q);
            var end = layout.Offset(block) + layout.Size(block);
            var j = i;
            while (j < sortedIndices.Length && sortedIndices[j] < end)
                j++;
            parts.Add((i, j - i));
            i = j;
        }

        return parts;
    }

    /// <summary>ρ_S for the subset S of the group flagged in <paramref name="inSubset"/> (by position in <see cref="Indices"/>).</summary>
    public double Cost(ReadOnlySpan<double> weights, ReadOnlySpan<bool> inSubset)
    {
        double total = 0;
        var positions = new int[_largest];
        foreach (var (start, count, sub) in _parts)
        {
            var k = 0;
            for (var a = 0; a < count; a++)
            {
                if (inSubset[start + a])
                    positions[k++] = a;
            }

            if (k == 0)
                continue;
            // A copy: the solve overwrites it, and the group's sub-matrix serves every subset tried.
            var s = new double[k * k];
            for (var a = 0; a < k; a++)
            {
                for (var b = 0; b < k; b++)
                    s[(a * k) + b] = sub[(positions[a] * count) + positions[b]];
            }

            var wq = new double[k];
            for (var a = 0; a < k; a++)
                wq[a] = weights[_indices[start + positions[a]]];
            total += SolvedCost(_layout, _indices[start], s, wq);
        }

        return total;
    }

    /// <summary>
    /// ½w_Qᵀ S⁻¹w_Q for one part with S = [H⁻¹]_QQ (k × k), solved in place in <paramref name="s"/> (overwritten when k &gt; 1);
    /// <paramref name="first"/> is one of the part's global indices (it names the block in a failure).
    /// </summary>
    public static double SolvedCost(BlockLayout layout, int first, double[] s, double[] wq)
    {
        var k = wq.Length;
        if (k == 1)
            return 0.5 * wq[0] * wq[0] / s[0];
        var x = (double[])wq.Clone();
        var (block, _) = layout.Locate(first);
        JointObsUpdate.Solve(s, k, x, block, JointObsUpdate.UnitRoundoff(Precision.Float64));
        double dot = 0;
        for (var a = 0; a < k; a++)
            dot += wq[a] * x[a];
        return 0.5 * dot;
    }
}
