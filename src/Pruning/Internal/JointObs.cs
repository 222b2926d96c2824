using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Internal;

/// <summary>Fills the c × k row-major columns [H⁻¹]_{block, Q} of one block, Q given as local indices.</summary>
internal delegate void BlockColumns(int block, int[] localQ, double[] destination);

/// <summary>Joint OBS update per block for estimators that can produce block columns of H⁻¹ (the solve is <see cref="JointObsUpdate"/>'s).</summary>
internal static class JointObs
{
    public static void Validate(int dimension, int weights, int remove)
    {
        if (weights != dimension || remove != dimension)
        {
            throw new ArgumentException($"Weights and removal flags must both have length d = {dimension}, got {weights} and {remove}.");
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
    /// w_B ← w_B − [H⁻¹]_{B,Q}([H⁻¹]_QQ)⁻¹w_Q per block B, then w_Q = 0 exactly: <see cref="JointObsUpdate"/> with the
    /// float64 columns <paramref name="columns"/> gives.
    /// </summary>
    public static void Apply(BlockLayout layout, Span<double> weights, ReadOnlySpan<bool> remove, BlockColumns columns)
        => JointObsUpdate.Apply(layout, weights, remove, new ColumnSource(layout, columns), Precision.Float64);

    /// <summary>Gathers [H⁻¹]_QQ from the block columns [H⁻¹]_{B,Q} and keeps them for the scatter of the same group.</summary>
    private sealed class ColumnSource(BlockLayout layout, BlockColumns columns) : IJointObsSource
    {
        private readonly Dictionary<int, double[]> _columns = [];

        public void Gather(JointObsPlan plan, int first, int last, double[] sub)
        {
            _columns.Clear();
            for (var b = first; b < last; b++)
            {
                var q = plan.Local(b).ToArray();
                if (q.Length == 0)
                {
                    continue;
                }

                var k = q.Length;
                var cols = new double[layout.Size(b) * k];
                columns(b, q, cols);
                _columns[b] = cols;
                var at = (int)(plan.SubStart(b) - plan.SubStart(first));
                for (var i = 0; i < k; i++)
                {
                    cols.AsSpan(q[i] * k, k).CopyTo(sub.AsSpan(at + (i * k), k));
                }
            }
        }

        public void Scatter(JointObsPlan plan, int first, int last, double[] alpha, double[] delta)
        {
            foreach (var (b, cols) in _columns)
            {
                var k = plan.Size(b);
                var z = alpha.AsSpan(plan.EntryStart(b) - plan.EntryStart(first), k);
                var off = layout.Offset(b);
                for (var r = 0; r < layout.Size(b); r++)
                {
                    delta[off + r] = System.Numerics.Tensors.TensorPrimitives.Dot(cols.AsSpan(r * k, k), z);
                }
            }

            _columns.Clear();
        }
    }
}
