using WoodFisher.Kernels;

namespace WoodFisher.Pruning;

/// <summary>The queries that need the blocks themselves: each pass builds (or finds resident) only the groups it touches.</summary>
public sealed partial class GroupedWoodFisherCurvature
{
    /// <inheritdoc />
    public double[] Multiply(ReadOnlySpan<double> v)
    {
        if (v.Length != Dimension)
        {
            throw new ArgumentException($"Expected a vector of length d = {Dimension}, got {v.Length}.", nameof(v));
        }

        var x = v.ToArray();
        var result = new double[Dimension];
        Pass(AllGroups(Plan), (g, inverse) =>
        {
            var range = Plan.Groups[g];
            inverse.Multiply(x.AsSpan(range.Start, range.Length), result.AsSpan(range.Start, range.Length), 1);
            return true;
        });
        return result;
    }

    /// <inheritdoc />
    public double[] SubMatrix(ReadOnlySpan<int> indices)
    {
        if (indices.Length == 0)
        {
            return [];
        }

        var g = GroupOf(indices[0]);
        var local = Local(g, indices);
        double[] sub = [];
        Pass([g], (_, inverse) =>
        {
            sub = inverse.SubMatrix(local);
            return true;
        });
        return sub;
    }

    /// <inheritdoc />
    /// <remarks>One pass over the groups of blocks that hold the parts, each group built once.</remarks>
    public void SubMatrices(IReadOnlyList<int[]> parts, Action<int, double[]> use)
    {
        ArgumentNullException.ThrowIfNull(parts);
        ArgumentNullException.ThrowIfNull(use);
        var byGroup = new SortedDictionary<int, List<int>>();
        var locals = new int[parts.Count][];
        for (var i = 0; i < parts.Count; i++)
        {
            if (parts[i].Length == 0)
            {
                use(i, []);
                continue;
            }

            var g = GroupOf(parts[i][0]);
            locals[i] = Local(g, parts[i]);
            if (!byGroup.TryGetValue(g, out var members))
            {
                byGroup[g] = members = [];
            }

            members.Add(i);
        }

        Pass([.. byGroup.Keys], (g, inverse) =>
        {
            var members = byGroup[g];
            inverse.SubMatrices([.. members.Select(i => locals[i])], (j, sub) => use(members[j], sub));
            return true;
        });
    }

    /// <summary>Indices relative to group <paramref name="g"/>'s first coordinate, all inside it.</summary>
    private int[] Local(int g, ReadOnlySpan<int> indices)
    {
        var range = Plan.Groups[g];
        var local = new int[indices.Length];
        for (var i = 0; i < local.Length; i++)
        {
            local[i] = indices[i] - range.Start;
            if (local[i] < 0 || local[i] >= range.Length)
            {
                throw new ArgumentException($"Index {indices[i]} is not in the block of index {indices[0]}; sub-matrices are defined inside one block.", nameof(indices));
            }
        }

        return local;
    }

    /// <inheritdoc />
    public void ObsUpdate(Span<double> weights, ReadOnlySpan<bool> mask)
    {
        if (weights.Length != Dimension || mask.Length != Dimension)
        {
            throw new ArgumentException($"Weights and mask must have length {Dimension}, got {weights.Length} and {mask.Length}.");
        }

        // Only groups with a pruned coordinate change: the others are neither rebuilt nor touched.
        var groups = new List<int>();
        for (var g = 0; g < Plan.Groups.Count; g++)
        {
            var range = Plan.Groups[g];
            if (mask.Slice(range.Start, range.Length).Contains(false))
            {
                groups.Add(g);
            }
        }

        var w = weights.ToArray();
        var m = mask.ToArray();
        Pass(groups, (g, inverse) =>
        {
            var range = Plan.Groups[g];
            inverse.ObsUpdate(w.AsSpan(range.Start, range.Length), m.AsSpan(range.Start, range.Length));
            return true;
        });
        w.CopyTo(weights);
    }
}
