using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>Rows (the k of op(A)) summed in float32 by <see cref="SymmetricRankKMixed{TSrc}"/> before a float64 addition.</summary>
    public const int MixedPanel = Gemm.KC;

    /// <summary>
    /// Symmetric rank-k update with mixed-precision accumulation: C += op(A)·op(A)ᵀ for float64 C (n × n, row stride
    /// <paramref name="ldc"/>) and op(A) n × k (A stored n × k, or k × n with <paramref name="transpose"/>, giving AᵀA, the
    /// Gram matrix of A's rows; float32 or float64 entries, rounded to float32). The products run in float32 at twice the
    /// float64 rate in the GEMM's micro-kernel, whose register tiles sum each packed panel's (at most
    /// <see cref="MixedPanel"/>) terms in float32 and add them into C widened to float64. Only C's lower triangle (diagonal
    /// included) is updated.
    /// </summary>
    /// <remarks>
    /// Error: each entry is within γ_KC·Σ_r |a_ri a_rj| of the float64 sum of the float32-rounded terms (KC =
    /// <see cref="MixedPanel"/>, γ_k = k·u/(1 − k·u), u = 2⁻²⁴; γ_256 ≈ 1.5·10⁻⁵ worst case, about √KC·u = 10⁻⁶ in
    /// practice), whatever k is: the float64 sums keep the panels' rounding from growing with the number of terms.
    /// </remarks>
    /// <exception cref="ArgumentException">A dimension is negative, a stride too small, or a span too short for its shape.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void SymmetricRankKMixed<TSrc>(bool transpose, int n, int k, ReadOnlySpan<TSrc> a, int lda, Span<double> c, int ldc,
        bool parallel = true)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        CheckSymmetricRankK(transpose, n, k, a.Length, lda, c.Length, ldc);
        if (n == 0 || k == 0)
        {
            return;
        }

        fixed (TSrc* pa = a)
        fixed (double* pc = c)
        {
            if (typeof(TSrc) == typeof(float))
            {
                var pf = (float*)pa;
                Gemm.MultiplyWidening(n, n, k, PinnedMatrix<float>.RowMajor(pf, lda, transpose), PinnedMatrix<float>.RowMajor(pf, lda, !transpose), pc, ldc, true, parallel);
                return;
            }

            // A float64 source is rounded to float32 one panel at a time into a contiguous copy (row stride n or kc).
            using var copyRental = new Rental<float>(n * Math.Min(MixedPanel, k));
            fixed (float* pcopy = copyRental.Array)
            {
                for (var p0 = 0; p0 < k; p0 += MixedPanel)
                {
                    var kc = Math.Min(MixedPanel, k - p0);
                    var (rows, cols) = transpose ? (kc, n) : (n, kc);
                    var start = transpose ? (long)p0 * lda : p0;
                    for (var r = 0; r < rows; r++)
                    {
                        Cpu.SimdOps.Convert(new ReadOnlySpan<TSrc>(pa + start + ((long)r * lda), cols), new Span<float>(pcopy + ((long)r * cols), cols));
                    }

                    Gemm.MultiplyWidening(n, n, kc, PinnedMatrix<float>.RowMajor(pcopy, cols, transpose), PinnedMatrix<float>.RowMajor(pcopy, cols, !transpose), pc, ldc, true, parallel);
                }
            }
        }
    }
}
