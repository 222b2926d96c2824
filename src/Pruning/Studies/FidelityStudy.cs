using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Studies;

/// <summary>How far one estimator's inverse is from the exact damped inverse (relative Frobenius errors).</summary>
/// <param name="Label">The estimator's label.</param>
/// <param name="Full">‖Ĥ⁻¹ − H⁻¹‖_F/‖H⁻¹‖_F over the whole d × d matrix (block-diagonal estimators count as zero off their blocks).</param>
/// <param name="WithinBlocks">The same over the entries inside the blocks of the reference layout only.</param>
/// <param name="Diagonal">The same over the diagonal only (all OBS scores use).</param>
/// <param name="Cosine">⟨Ĥ⁻¹, H⁻¹⟩_F/(‖Ĥ⁻¹‖_F‖H⁻¹‖_F) over the whole matrix (1 = right up to scale).</param>
/// <param name="PerBlock">Relative Frobenius error per block of the reference layout, in block order.</param>
public sealed record FidelityRow(string Label, double Full, double WithinBlocks, double Diagonal, double Cosine, double[] PerBlock);

/// <summary>One diagonal block of the exact inverse and of each estimator, for heat maps (a top-left crop of the block).</summary>
/// <param name="Block">Block index in the reference layout.</param>
/// <param name="Offset">First coordinate of the crop.</param>
/// <param name="Size">Side of the crop.</param>
/// <param name="Layer">Name of the parameter the block lies in.</param>
/// <param name="Exact">Exact H⁻¹ crop (Size × Size, row-major).</param>
/// <param name="Estimates">Label → the estimator's crop, in estimator order.</param>
public sealed record BlockSnapshot(int Block, int Offset, int Size, string Layer, double[] Exact, IReadOnlyList<KeyValuePair<string, double[]>> Estimates);

/// <summary>
/// Matrix fidelity: compares dense inverse estimates with an exact reference inverse, over the whole matrix, within
/// the blocks of a reference layout (the WoodFisher block layout) and per block.
/// </summary>
public static class FidelityStudy
{
    /// <summary>Compares <paramref name="estimate"/> (d × d) against <paramref name="exact"/> (d × d).</summary>
    /// <param name="label">Row label.</param>
    /// <param name="estimate">Ĥ⁻¹, dense row-major (see <see cref="StudyMatrices.ToDense"/>).</param>
    /// <param name="exact">H⁻¹, dense row-major.</param>
    /// <param name="layout">Reference blocks (dimension d).</param>
    public static FidelityRow Compare(string label, ReadOnlySpan<double> estimate, ReadOnlySpan<double> exact, BlockLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        var d = layout.Dimension;
        if (estimate.Length != (long)d * d || exact.Length != (long)d * d)
        {
            throw new ArgumentException($"Both matrices must be {d} × {d} to match the layout, got {estimate.Length} and {exact.Length} values.");
        }

        var perBlock = new double[layout.Count];
        double inNum = 0, inDen = 0, diagNum = 0, diagDen = 0;
        for (var b = 0; b < layout.Count; b++)
        {
            var off = layout.Offset(b);
            var c = layout.Size(b);
            double num = 0, den = 0;
            for (var i = off; i < off + c; i++)
            {
                for (var j = off; j < off + c; j++)
                {
                    var k = ((long)i * d) + j;
                    var e = estimate[(int)k] - exact[(int)k];
                    num += e * e;
                    den += exact[(int)k] * exact[(int)k];
                }

                var kk = (int)(((long)i * d) + i);
                var de = estimate[kk] - exact[kk];
                diagNum += de * de;
                diagDen += exact[kk] * exact[kk];
            }

            perBlock[b] = Ratio(num, den);
            inNum += num;
            inDen += den;
        }

        return new FidelityRow(
            label,
            StudyMetrics.RelativeFrobenius(estimate, exact),
            Ratio(inNum, inDen),
            Ratio(diagNum, diagDen),
            StudyMetrics.Cosine(estimate, exact),
            perBlock);
    }

    private static double Ratio(double num, double den) => num == 0 ? 0 : den == 0 ? double.NaN : Math.Sqrt(num / den);
}
