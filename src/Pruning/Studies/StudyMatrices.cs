using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Studies;

/// <summary>Dense views of inverse-curvature estimates for studies (small d only: d² float64 values).</summary>
public static class StudyMatrices
{
    /// <summary>
    /// The estimator's full operator as a dense d × d matrix (row-major): column j is H⁻¹eⱼ from
    /// <see cref="IInverseCurvature.Multiply"/>, so block-diagonal estimators are exactly zero off their blocks and K-FAC
    /// holds its whole-layer Kronecker inverse. Block-diagonal estimators are read block by block (same values, faster).
    /// </summary>
    public static double[] ToDense(IInverseCurvature inverse)
    {
        ArgumentNullException.ThrowIfNull(inverse);
        var d = inverse.Dimension;
        var m = new double[(long)d * d];
        switch (inverse)
        {
            case IdentityCurvature or DiagonalFisherCurvature:
                {
                    var diag = inverse.Diagonal();
                    for (var i = 0; i < d; i++)
                    {
                        m[((long)i * d) + i] = diag[i];
                    }

                    return m;
                }

            case WoodFisherCurvature wf:
                CopyBlocks(wf.Layout, wf.Inverse.Block, m, d);
                return m;
            case DenseCurvature dense:
                CopyBlocks(dense.Layout, dense.Block, m, d);
                return m;
            default:
                {
                    var e = new double[d];
                    for (var j = 0; j < d; j++)
                    {
                        e[j] = 1;
                        var col = inverse.Multiply(e);
                        e[j] = 0;
                        for (var i = 0; i < d; i++)
                        {
                            m[((long)i * d) + j] = col[i];
                        }
                    }

                    return m;
                }
        }
    }

    /// <summary>The square sub-matrix M[offset..offset+size, offset..offset+size] of a d × d row-major matrix.</summary>
    public static double[] DiagonalBlock(ReadOnlySpan<double> matrix, int d, int offset, int size)
    {
        if (matrix.Length != (long)d * d || offset < 0 || size < 0 || offset + size > d)
        {
            throw new ArgumentException($"Block [{offset}, {offset + size}) does not fit a {d} × {d} matrix of {matrix.Length} values.");
        }

        var r = new double[size * size];
        for (var i = 0; i < size; i++)
        {
            matrix.Slice((int)(((long)(offset + i) * d) + offset), size).CopyTo(r.AsSpan(i * size, size));
        }

        return r;
    }

    private static void CopyBlocks(BlockLayout layout, Func<int, double[]> block, double[] m, int d)
    {
        for (var b = 0; b < layout.Count; b++)
        {
            var off = layout.Offset(b);
            var c = layout.Size(b);
            var values = block(b);
            for (var i = 0; i < c; i++)
            {
                Array.Copy(values, i * c, m, ((long)(off + i) * d) + off, c);
            }
        }
    }
}
