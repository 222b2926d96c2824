using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>
    /// Replaces the SPD matrix A (n × n row-major, lower triangle read) by its inverse A⁻¹ = L⁻ᵀL⁻¹ (full, symmetric).
    /// Returns false when A is not numerically positive definite (<paramref name="a"/> is then garbage).
    /// </summary>
    public static bool TryCholeskyInvert<T>(Span<T> a, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
        => TryCholeskyInvert(a, n, parallel: false);

    /// <summary>As <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>, throwing <see cref="MatrixNotPositiveDefiniteException"/> on failure.</summary>
    public static void CholeskyInvert<T>(Span<T> a, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
        => RequirePositiveDefinite(CholeskyInvertCore(a, n, parallel: false, out var pivot, out var value), pivot, value);

    internal static bool TryCholeskyInvert<T>(Span<T> a, int n, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
        => CholeskyInvertCore(a, n, parallel, out _, out _) && T.IsFinite(TensorPrimitives.MaxMagnitude<T>(a));

    /// <summary>Float64 form of <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>.</summary>
    public static bool TryCholeskyInvert(Span<double> a, int n) => TryCholeskyInvert<double>(a, n, parallel: false);

    /// <summary>Float32 form of <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>.</summary>
    public static bool TryCholeskyInvert(Span<float> a, int n) => TryCholeskyInvert<float>(a, n, parallel: false);

    /// <summary>Float64 form of <see cref="CholeskyInvert{T}"/>.</summary>
    public static void CholeskyInvert(Span<double> a, int n) => CholeskyInvert<double>(a, n);

    /// <summary>Float32 form of <see cref="CholeskyInvert{T}"/>.</summary>
    public static void CholeskyInvert(Span<float> a, int n) => CholeskyInvert<float>(a, n);

    /// <summary>
    /// A⁻¹ = MᵀM with M = L⁻¹: L and M together by <see cref="FactorInvert{T}"/>, then the lower half of MᵀM as a sum of
    /// SYRKs over panels of M's rows: row k of M is zero right of column k, so panel [k0, k1) adds only to the leading
    /// k1 × k1 of the result, ≈ n³/3 flops in all where one lower-half GEMM does n³. About 1.4n³ flops in all, every one of
    /// them outside the 16 × 16 leaves in the provider's GEMM.
    /// </summary>
    private static bool CholeskyInvertCore<T>(Span<T> a, int n, bool parallel, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(a.Length, n);
        var len = n * n;
        using var lRental = new Rental<T>(len);
        using var mRental = new Rental<T>(len);
        using var sRental = new Rental<T>(Math.Max(1, len / 4));
        var l = lRental.Array;
        var m = mRental.Array;
        a.CopyTo(l);
        m.AsSpan(0, len).Clear();
        if (!FactorInvert(l, m, sRental.Array, 0, n, n, parallel, out pivot, out value))
        {
            return false;
        }

        a.Clear();
        var res = l;
        res.AsSpan(0, len).Clear();
        for (var k0 = 0; k0 < n; k0 += InverseProductPanel)
        {
            var k1 = Math.Min(n, k0 + InverseProductPanel);
            Gemm.Multiply(k1, k1, k1 - k0, T.One, StridedMatrix<T>.Transposed(m, k0 * n, n), StridedMatrix<T>.RowMajor(m, k0 * n, n), res, 0, n, lowerOnly: true, parallel: parallel);
        }

        SymmetricMirror.LowerToUpper(res.AsSpan(0, len), n);
        res.AsSpan(0, len).CopyTo(a);
        return true;
    }

    /// <summary>
    /// Recursive Cholesky factor and triangular inverse of the diagonal block [r, r + s)² (leading dimension ld): on entry
    /// <paramref name="l"/> holds A's lower triangle there, on return L (its strict upper part untouched), and
    /// <paramref name="m"/> (zero there on entry) holds L⁻¹. With A = [A11 ·; A21 A22] split in halves:
    /// L11, M11 recursively; L21 = A21·M11ᵀ; A22 −= L21L21ᵀ; L22, M22 recursively; M21 = −M22·(L21·M11).
    /// <paramref name="scratch"/> holds (s/2)² elements.
    /// </summary>
    private static bool FactorInvert<T>(T[] l, T[] m, T[] scratch, int r, int s, int ld, bool parallel, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (s <= InverseLeaf)
        {
            return FactorInvertLeaf(l, m, r, s, ld, out pivot, out value);
        }

        // First half a multiple of the leaf, so that leaves stay full.
        var s1 = Math.Max(InverseLeaf, (s / 2) / InverseLeaf * InverseLeaf);
        var s2 = s - s1;
        if (!FactorInvert(l, m, scratch, r, s1, ld, parallel, out pivot, out value))
        {
            return false;
        }

        long d11 = ((long)r * ld) + r;
        long b21 = ((long)(r + s1) * ld) + r;
        long d22 = b21 + s1;

        // L21 = A21·M11ᵀ through scratch (GEMM accumulates into C).
        for (var i = 0; i < s2; i++)
        {
            var row = l.AsSpan((int)(b21 + ((long)i * ld)), s1);
            row.CopyTo(scratch.AsSpan(i * s1, s1));
            row.Clear();
        }

        Gemm.Multiply(s2, s1, s1, T.One, StridedMatrix<T>.RowMajor(scratch, 0, s1), StridedMatrix<T>.Transposed(m, d11, ld), l, b21, ld, parallel: parallel);
        Gemm.Multiply(s2, s2, s1, -T.One, StridedMatrix<T>.RowMajor(l, b21, ld), StridedMatrix<T>.Transposed(l, b21, ld), l, d22, ld, lowerOnly: true, parallel: parallel);
        if (!FactorInvert(l, m, scratch, r + s1, s2, ld, parallel, out pivot, out value))
        {
            return false;
        }

        // M21 = −M22·(L21·M11), the inner product through scratch.
        scratch.AsSpan(0, s2 * s1).Clear();
        Gemm.Multiply(s2, s1, s1, T.One, StridedMatrix<T>.RowMajor(l, b21, ld), StridedMatrix<T>.RowMajor(m, d11, ld), scratch, 0, s1, parallel: parallel);
        Gemm.Multiply(s2, s1, s2, -T.One, StridedMatrix<T>.RowMajor(m, d22, ld), StridedMatrix<T>.RowMajor(scratch, 0, s1), m, b21, ld, parallel: parallel);
        return true;
    }

    /// <summary>Unblocked Cholesky of the s × s diagonal block at (r, r) of <paramref name="l"/>, and its inverse into <paramref name="m"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool FactorInvertLeaf<T>(T[] l, T[] m, int r, int s, int ld, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var d = (r * ld) + r;
        var a = l.AsSpan(d);
        var inv = m.AsSpan(d);
        for (var i = 0; i < s; i++)
        {
            var ri = i * ld;
            for (var j = 0; j <= i; j++)
            {
                var rj = j * ld;
                var sum = a[ri + j];
                for (var k = 0; k < j; k++)
                {
                    sum -= a[ri + k] * a[rj + k];
                }

                if (i != j)
                {
                    a[ri + j] = sum / a[rj + j];
                    continue;
                }

                if (!(sum > T.Zero) || !T.IsFinite(sum))
                {
                    pivot = r + i;
                    value = sum;
                    return false;
                }

                a[ri + i] = T.Sqrt(sum);
            }

            // Row i of L⁻¹: M_ij = −(Σ_{j ≤ k < i} L_ik M_kj) / L_ii.
            var rec = T.One / a[ri + i];
            for (var j = 0; j < i; j++)
            {
                var sum = T.Zero;
                for (var k = j; k < i; k++)
                {
                    sum += a[ri + k] * inv[(k * ld) + j];
                }

                inv[ri + j] = -sum * rec;
            }

            inv[ri + i] = rec;
        }

        pivot = -1;
        value = T.Zero;
        return true;
    }
}
