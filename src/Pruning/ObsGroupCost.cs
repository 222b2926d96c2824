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
    {
        _indices = sortedIndices;
        _layout = inverse.Layout;
        var parts = new List<(int, int, double[])>();
        var layout = inverse.Layout;
        var i = 0;
        while (i < sortedIndices.Length)
        {
            var q = sortedIndices[i];
            if (q < 0 || q >= inverse.Dimension || (i > 0 && q <= sortedIndices[i - 1]))
                throw new ArgumentException($"Group index {q} is outside [0, {inverse.Dimension}) or repeated.", nameof(sortedIndices));
            var (block, _) = layout.Locate(q);
            var end = layout.Offset(block) + layout.Size(block);
            var j = i;
            while (j < sortedIndices.Length && sortedIndices[j] < end)
                j++;
            parts.Add((i, j - i, inverse.SubMatrix(sortedIndices.AsSpan(i, j - i))));
            i = j;
        }

        _parts = [.. parts];
        _largest = _parts.Length == 0 ? 0 : _parts.Max(p => p.Count);
    }

    /// <summary>The group's global indices, ascending.</summary>
    public ReadOnlySpan<int> Indices => _indices;

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
            if (k == 1)
            {
                var w = weights[_indices[start + positions[0]]];
                total += 0.5 * w * w / sub[(positions[0] * count) + positions[0]];
                continue;
            }

            var s = new double[k * k];
            var wq = new double[k];
            for (var a = 0; a < k; a++)
            {
                wq[a] = weights[_indices[start + positions[a]]];
                for (var b = 0; b < k; b++)
                    s[(a * k) + b] = sub[(positions[a] * count) + positions[b]];
            }

            var x = (double[])wq.Clone();
            var (block, _) = _layout.Locate(_indices[start]);
            JointObsUpdate.Solve(s, k, x, block, JointObsUpdate.UnitRoundoff(Precision.Float64));
            double dot = 0;
            for (var a = 0; a < k; a++)
                dot += wq[a] * x[a];
            total += 0.5 * dot;
        }

        return total;
    }
}
