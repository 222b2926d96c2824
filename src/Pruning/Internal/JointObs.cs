using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Internal;

/// <summary>Fills the c × k row-major columns [H⁻¹]_{block, Q} of one block, Q given as local indices.</summary>
internal delegate void BlockColumns(int block, int[] localQ, double[] destination);

/// <summary>Joint OBS update per block for estimators that can produce block columns of H⁻¹.</summary>
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

    /// <summary>w_B ← w_B − [H⁻¹]_{B,Q}([H⁻¹]_QQ)⁻¹w_Q per block B (Q = mask false), then w_Q = 0 exactly.</summary>
    public static void Apply(BlockLayout layout, Span<double> weights, ReadOnlySpan<bool> mask, BlockColumns columns)
    {
        var q = new List<int>();
        for (var b = 0; b < layout.Count; b++)
        {
            var off = layout.Offset(b);
            var c = layout.Size(b);
            q.Clear();
            for (var i = 0; i < c; i++)
            {
                if (!mask[off + i])
                {
                    q.Add(i);
                }
            }

            if (q.Count == 0)
            {
                continue;
            }

            var k = q.Count;
            var localQ = q.ToArray();
            var cols = new double[c * k];
            columns(b, localQ, cols);
            var sub = new double[k * k];
            var wq = new double[k];
            for (var i = 0; i < k; i++)
            {
                wq[i] = weights[off + localQ[i]];
                for (var j = 0; j < k; j++)
                {
                    sub[(i * k) + j] = cols[(localQ[i] * k) + j];
                }
            }

            var z = DenseLinearAlgebra.SolveSymmetric(sub, k, wq);
            for (var r = 0; r < c; r++)
            {
                double s = 0;
                for (var j = 0; j < k; j++)
                {
                    s += cols[(r * k) + j] * z[j];
                }

                weights[off + r] -= s;
            }

            foreach (var i in localQ)
            {
                weights[off + i] = 0;
            }
        }
    }
}
