using System.Numerics;
using System.Numerics.Tensors;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>Rows (the k of op(A)) summed in float32 by <see cref="SymmetricRankKMixed{TSrc}"/> before a float64 addition.</summary>
    public const int MixedPanel = 256;

    /// <summary>
    /// Symmetric rank-k update with mixed-precision accumulation: C += op(A)·op(A)ᵀ for float64 C (n × n, row stride
    /// <paramref name="ldc"/>) and op(A) n × k (A stored n × k, or k × n with <paramref name="transpose"/>, giving AᵀA, the
    /// Gram matrix of A's rows; float32 or float64 entries, rounded to float32). The products run in float32 at twice the
    /// float64 rate through <see cref="SymmetricRankK{T}"/>'s kernel, summed in float32 over panels of at most
    /// <see cref="MixedPanel"/> of the k terms, and the panels are added into C in float64. Only C's lower triangle (diagonal
    /// included) is updated.
    /// </summary>
    /// <remarks>
    /// Error: each entry is within γ_KC·Σ_r |a_ri a_rj| of the float64 sum of the float32-rounded terms (KC =
    /// <see cref="MixedPanel"/>, γ_k = k·u/(1 − k·u), u = 2⁻²⁴; γ_256 ≈ 1.5·10⁻⁵ worst case, about √KC·u = 10⁻⁶ in
    /// practice), whatever k is: the float64 sums keep the panels' rounding from growing with the number of terms.
    /// </remarks>
    /// <exception cref="ArgumentException">A dimension is negative, a stride too small, or a span too short for its shape.</exception>
    public static unsafe void SymmetricRankKMixed<TSrc>(bool transpose, int n, int k, ReadOnlySpan<TSrc> a, int lda, Span<double> c, int ldc,
        bool parallel = true)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        CheckSymmetricRankK(transpose, n, k, a.Length, lda, c.Length, ldc);
        if (n == 0 || k == 0)
        {
            return;
        }

        var kcMax = Math.Min(MixedPanel, k);
        using var partRental = new Rental<float>(n * n);
        using var copyRental = new Rental<float>(typeof(TSrc) == typeof(float) ? 0 : n * kcMax);
        var part = partRental.Array;
        fixed (TSrc* pa = a)
        fixed (float* pp = part, pcopy = copyRental.Array)
        {
            for (var p0 = 0; p0 < k; p0 += MixedPanel)
            {
                var kc = Math.Min(MixedPanel, k - p0);

                // The panel as float32: read in place, or rounded into a contiguous copy (row stride n or kc).
                float* panel;
                int ld;
                var start = transpose ? (long)p0 * lda : p0;
                if (typeof(TSrc) == typeof(float))
                {
                    panel = (float*)(pa + start);
                    ld = lda;
                }
                else
                {
                    var (rows, cols) = transpose ? (kc, n) : (n, kc);
                    for (var r = 0; r < rows; r++)
                    {
                        TensorPrimitives.ConvertTruncating(new ReadOnlySpan<TSrc>(pa + start + ((long)r * lda), cols), new Span<float>(pcopy + ((long)r * cols), cols));
                    }

                    panel = pcopy;
                    ld = cols;
                }

                new Span<float>(pp, n * n).Clear();
                Gemm.Multiply(n, n, kc, 1f, PinnedMatrix<float>.RowMajor(panel, ld, transpose), PinnedMatrix<float>.RowMajor(panel, ld, !transpose), pp, n, true, parallel);
                for (var i = 0; i < n; i++)
                {
                    var src = part.AsSpan(i * n, i + 1);
                    var dst = c.Slice(i * ldc, i + 1);
                    AddWidened(src, dst);
                }
            }
        }
    }

    /// <summary>dst += src, src widened to float64.</summary>
    private static void AddWidened(ReadOnlySpan<float> src, Span<double> dst)
    {
        Span<double> wide = stackalloc double[256];
        for (var j = 0; j < src.Length; j += wide.Length)
        {
            var len = Math.Min(wide.Length, src.Length - j);
            TensorPrimitives.ConvertChecked(src.Slice(j, len), wide[..len]);
            TensorPrimitives.Add(dst.Slice(j, len), wide[..len], dst.Slice(j, len));
        }
    }
}
