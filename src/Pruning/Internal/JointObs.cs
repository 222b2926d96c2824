using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Internal;

/// <summary>Fills the c × k row-major columns [H⁻¹]_{block, Q} of one block, Q given as local indices; called for several blocks at once.</summary>
internal delegate void BlockColumns(int block, int[] localQ, double[] destination);

/// <summary>Joint OBS update per block for estimators that can produce block columns of H⁻¹ (the solve is <see cref="JointObsUpdate"/>'s).</summary>
internal static class JointObs
{
    public static void Validate(int dimension, int weights, int mask)
    {
        if (weights != dimension || mask != dimension)
        {
            throw new ArgumentException($"Weights and mask must both have length d = {dimension}, got {weights} and {mask}.");
        }
    }

    /// <summary>The block holding all of <paramref name="indices"/> and their local positions; throws when they straddle blocks.</summary>
    public static (int Block, int[] Local) LocateAll(BlockLayout layout, ReadOnlySpan<int> indices)
    {
        if (indices.Length == 0)
        {
            return (0, []);
        }

        var (b, _) = layout.Locate(indices[0]);
        var off = layout.Offset(b);
        var c = layout.Size(b);
        var local = new int[indices.Length];
        for (var i = 0; i < indices.Length; i++)
        {
            var li = indices[i] - off;
            if (li < 0 || li >= c)
            {
                throw new ArgumentException($"Index {indices[i]} is not in block {b} (coordinates {off}..{off + c - 1}) with index {indices[0]}; sub-matrices are defined inside one block.", nameof(indices));
            }

            local[i] = li;
        }

        return (b, local);
    }

    /// <summary>
    /// w_B ← w_B − [H⁻¹]_{B,Q}([H⁻¹]_QQ)⁻¹w_Q per block B (Q = mask false), then w_Q = 0 exactly: <see cref="JointObsUpdate"/>
    /// on the float64 columns that <paramref name="columns"/> gives.
    /// </summary>
    public static void Apply(BlockLayout layout, Span<double> weights, ReadOnlySpan<bool> mask, BlockColumns columns)
        => JointObsUpdate.Apply(layout, weights, mask, new ColumnSource(columns), Precision.Float64);

    private sealed class ColumnSource(BlockColumns columns) : IJointObsSource
    {
        // Blocks over the cores: every BlockColumns only reads the estimate, and each block fills its own slice.
        public void GatherColumns(JointObsPlan plan, int first, int last, double[] destination)
        {
            var c0 = plan.ColumnStart(first);
            Parallel.For(first, last, b =>
            {
                var q = plan.Local(b);
                if (q.Length > 0)
                {
                    var cols = new double[plan.Layout.Size(b) * q.Length];
                    columns(b, q.ToArray(), cols);
                    cols.CopyTo(destination.AsSpan((int)(plan.ColumnStart(b) - c0)));
                }
            });
        }
    }
}
