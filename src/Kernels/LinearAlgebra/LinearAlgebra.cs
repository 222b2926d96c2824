using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// Dense symmetric-positive-definite linear algebra on row-major n × n spans, in float32 or float64:
/// Cholesky factorization A = LLᵀ, solves with the factor, and the SPD inverse A⁻¹ = L⁻ᵀL⁻¹; in float64 also a
/// pivoted LU solve and the symmetric eigen-decomposition A = VΛVᵀ (SymmetricEigen.cs).
/// </summary>
public static partial class LinearAlgebra
{
    /// <summary>
    /// Factors the SPD matrix A (n × n row-major, only the lower triangle is read) in place into its lower Cholesky
    /// factor L with A = LLᵀ; the strict upper triangle is zeroed. Returns false, leaving <paramref name="a"/>
    /// partly overwritten, when a pivot is ≤ 0 or NaN.
    /// </summary>
    public static bool TryCholeskyFactor<T>(Span<T> a, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
        => CholeskyCore(a, n, out _, out _);

    /// <summary>As <see cref="TryCholeskyFactor{T}"/>, throwing <see cref="MatrixNotPositiveDefiniteException"/> on failure.</summary>
    public static void CholeskyFactor<T>(Span<T> a, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!CholeskyCore(a, n, out var pivot, out var value))
        {
            throw new MatrixNotPositiveDefiniteException(pivot, double.CreateTruncating(value));
        }
    }

    /// <summary>Block size of the blocked (GEMM-based) factorization and triangular inverse; smaller matrices run unblocked.</summary>
    private const int Nb = 64;

    private static bool CholeskyCore<T>(Span<T> a, int n, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(a.Length, n);
        bool ok;
        if (n <= 2 * Nb)
        {
            ok = CholeskyUnblocked(a, n, n, out pivot, out value);
        }
        else
        {
            var buf = ArrayPool<T>.Shared.Rent(n * n);
            try
            {
                a.CopyTo(buf);
                ok = CholeskyBlocked(buf, n, out pivot, out value);
                buf.AsSpan(0, n * n).CopyTo(a);
            }
            finally
            {
                ArrayPool<T>.Shared.Return(buf);
            }
        }

        if (ok)
        {
            for (var i = 0; i < n; i++)
            {
                a.Slice((i * n) + i + 1, n - i - 1).Clear();
            }
        }

        return ok;
    }

    /// <summary>Row-oriented Cholesky of the n × n lower triangle at the start of <paramref name="a"/> (leading dimension ld).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool CholeskyUnblocked<T>(Span<T> a, int n, int ld, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        for (var i = 0; i < n; i++)
        {
            var rowI = a.Slice(i * ld, i + 1);
            for (var j = 0; j <= i; j++)
            {
                var s = rowI[j] - SimdOps.Dot<T>(rowI[..j], a.Slice(j * ld, j));
                if (i == j)
                {
                    if (!(s > T.Zero) || !T.IsFinite(s))
                    {
                        pivot = i;
                        value = s;
                        return false;
                    }

                    rowI[i] = T.Sqrt(s);
                }
                else
                {
                    rowI[j] = s / a[(j * ld) + j];
                }
            }
        }

        pivot = -1;
        value = T.Zero;
        return true;
    }

    /// <summary>
    /// Right-looking blocked Cholesky: factor a diagonal block, L21 = A21·L11⁻ᵀ and A22 −= L21L21ᵀ by GEMM. Only the lower
    /// triangle is meaningful afterwards.
    /// </summary>
    private static bool CholeskyBlocked<T>(T[] a, int n, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var linv = ArrayPool<T>.Shared.Rent(Nb * Nb);
        var panel = ArrayPool<T>.Shared.Rent(n * Nb);
        try
        {
            for (var j0 = 0; j0 < n; j0 += Nb)
            {
                var jb = Math.Min(Nb, n - j0);
                if (!CholeskyUnblocked(a.AsSpan((j0 * n) + j0), jb, n, out pivot, out value))
                {
                    pivot += j0;
                    return false;
                }

                var rest = n - j0 - jb;
                if (rest == 0)
                {
                    break;
                }

                var li = linv.AsSpan(0, jb * jb);
                for (var i = 0; i < jb; i++)
                {
                    a.AsSpan(((j0 + i) * n) + j0, jb).CopyTo(li.Slice(i * jb, jb));
                }

                LowerTriangularInvert<T>(li, jb);
                var p = panel.AsSpan(0, rest * jb);
                p.Clear();
                var a21 = ((long)(j0 + jb) * n) + j0;
                Gemm.Multiply(rest, jb, jb, T.One, StridedMatrix<T>.RowMajor(a, a21, n), StridedMatrix<T>.Transposed(linv, 0, jb), panel, 0, jb);
                for (var i = 0; i < rest; i++)
                {
                    p.Slice(i * jb, jb).CopyTo(a.AsSpan((int)(a21 + ((long)i * n)), jb));
                }

                Gemm.Multiply(rest, rest, jb, -T.One, StridedMatrix<T>.RowMajor(a, a21, n), StridedMatrix<T>.Transposed(a, a21, n), a, a21 + jb, n, lowerOnly: true);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(linv);
            ArrayPool<T>.Shared.Return(panel);
        }

        pivot = -1;
        value = T.Zero;
        return true;
    }

    /// <summary>
    /// Solves A X = B in place given the lower Cholesky factor L of A (n × n); <paramref name="b"/> is n × <paramref name="columns"/>
    /// row-major and is overwritten by X (forward substitution with L, then back substitution with Lᵀ).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void CholeskySolve<T>(ReadOnlySpan<T> factor, int n, Span<T> b, int columns = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(factor.Length, n);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        if (b.Length != n * columns)
        {
            throw new ArgumentException($"Right-hand side must have {n} × {columns} elements, got {b.Length}.", nameof(b));
        }

        for (var i = 0; i < n; i++)
        {
            var bi = b.Slice(i * columns, columns);
            for (var k = 0; k < i; k++)
            {
                SimdOps.Axpy(-factor[(i * n) + k], b.Slice(k * columns, columns), bi);
            }

            TensorPrimitives.Divide(bi, factor[(i * n) + i], bi);
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var bi = b.Slice(i * columns, columns);
            for (var k = i + 1; k < n; k++)
            {
                SimdOps.Axpy(-factor[(k * n) + i], b.Slice(k * columns, columns), bi);
            }

            TensorPrimitives.Divide(bi, factor[(i * n) + i], bi);
        }
    }

    /// <summary>
    /// Replaces the lower-triangular L (n × n, non-zero diagonal; the strict upper triangle is ignored and zeroed)
    /// by L⁻¹ in place.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void LowerTriangularInvert<T>(Span<T> l, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(l.Length, n);
        for (var i = 0; i < n; i++)
        {
            l.Slice((i * n) + i + 1, n - i - 1).Clear();
        }

        if (n <= 2 * Nb)
        {
            LowerInverseUnblocked(l, n, n);
            return;
        }

        var buf = ArrayPool<T>.Shared.Rent(n * n);
        try
        {
            l.CopyTo(buf);
            LowerInverseBlocked(buf, n);
            buf.AsSpan(0, n * n).CopyTo(l);
        }
        finally
        {
            ArrayPool<T>.Shared.Return(buf);
        }
    }

    /// <summary>Row-oriented L⁻¹ of the n × n lower triangle at the start of <paramref name="l"/> (leading dimension ld).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void LowerInverseUnblocked<T>(Span<T> l, int n, int ld)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var tmp = ArrayPool<T>.Shared.Rent(n);
        try
        {
            for (var i = 0; i < n; i++)
            {
                var r = tmp.AsSpan(0, i);
                r.Clear();
                var rowI = l.Slice(i * ld, i + 1);
                for (var k = 0; k < i; k++)
                {
                    SimdOps.Axpy(rowI[k], l.Slice(k * ld, k + 1), r[..(k + 1)]);
                }

                var inv = T.One / rowI[i];
                TensorPrimitives.Multiply(r, -inv, rowI[..i]);
                rowI[i] = inv;
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(tmp);
        }
    }

    /// <summary>
    /// Blocked L⁻¹ by block rows I: M_II = L_II⁻¹, M[I, :I] = −M_II·(L[I, :I]·M[:I, :I]) by GEMM (strict upper triangle zero on entry).
    /// </summary>
    private static void LowerInverseBlocked<T>(T[] l, int n)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var t = ArrayPool<T>.Shared.Rent(Nb * n);
        var d = ArrayPool<T>.Shared.Rent(Nb * Nb);
        try
        {
            for (var i0 = 0; i0 < n; i0 += Nb)
            {
                var ib = Math.Min(Nb, n - i0);
                var rowStart = (long)i0 * n;
                LowerInverseUnblocked(l.AsSpan((int)(rowStart + i0)), ib, n);
                if (i0 == 0)
                {
                    continue;
                }

                var ts = t.AsSpan(0, ib * i0);
                ts.Clear();
                Gemm.Multiply(ib, i0, i0, T.One, StridedMatrix<T>.RowMajor(l, rowStart, n), StridedMatrix<T>.RowMajor(l, 0, n), t, 0, i0);
                var ds = d.AsSpan(0, ib * ib);
                for (var i = 0; i < ib; i++)
                {
                    l.AsSpan((int)(rowStart + ((long)i * n) + i0), ib).CopyTo(ds.Slice(i * ib, ib));
                    l.AsSpan((int)(rowStart + ((long)i * n)), i0).Clear();
                }

                Gemm.Multiply(ib, i0, ib, -T.One, StridedMatrix<T>.RowMajor(d, 0, ib), StridedMatrix<T>.RowMajor(t, 0, i0), l, rowStart, n);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(t);
            ArrayPool<T>.Shared.Return(d);
        }
    }

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
    {
        if (!CholeskyCore(a, n, out var pivot, out var value))
        {
            throw new MatrixNotPositiveDefiniteException(pivot, double.CreateTruncating(value));
        }

        InvertFromFactor(a, n, parallel: false);
    }

    internal static bool TryCholeskyInvert<T>(Span<T> a, int n, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!CholeskyCore(a, n, out _, out _))
        {
            return false;
        }

        InvertFromFactor(a, n, parallel);
        // MaxMagnitude is NaN or infinite exactly when some entry is: one vectorised pass.
        return T.IsFinite(TensorPrimitives.MaxMagnitude<T>(a));
    }

    private static void InvertFromFactor<T>(Span<T> a, int n, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        LowerTriangularInvert(a, n);
        var len = n * n;
        var m = ArrayPool<T>.Shared.Rent(len);
        try
        {
            a.CopyTo(m);
            a.Clear();
            var res = ArrayPool<T>.Shared.Rent(len);
            try
            {
                res.AsSpan(0, len).Clear();
                // (L⁻ᵀL⁻¹)_ij = Σ_{k ≥ max(i,j)} M_ki M_kj with M = L⁻¹ lower triangular: row panel [i0, i1) of the lower
                // half needs only k ≥ i0 (M_ki = 0 for k < i), so the panels do ≈ n³/3 flops where one lower-half GEMM does n³.
                for (var i0 = 0; i0 < n; i0 += Nb)
                {
                    var i1 = Math.Min(n, i0 + Nb);
                    Gemm.Multiply(i1 - i0, i1, n - i0, T.One, StridedMatrix<T>.Transposed(m, (i0 * n) + i0, n), StridedMatrix<T>.RowMajor(m, i0 * n, n), res, i0 * n, n, lowerOnly: false, parallel: parallel);
                }

                Gemm.MirrorLower(res.AsSpan(0, len), n);
                res.AsSpan(0, len).CopyTo(a);
            }
            finally
            {
                ArrayPool<T>.Shared.Return(res);
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(m);
        }
    }

    /// <summary>
    /// Solves A x = b in place by Gaussian elimination with partial pivoting (A n × n row-major, destroyed).
    /// Returns false when A is singular to working precision. The fallback for symmetric systems that are not
    /// numerically positive definite.
    /// </summary>
    public static bool TrySolveLu(Span<double> a, int n, Span<double> b)
    {
        CheckSquare(a.Length, n);
        if (b.Length != n)
        {
            throw new ArgumentException($"Right-hand side must have {n} elements, got {b.Length}.", nameof(b));
        }

        var scale = 0.0;
        foreach (var x in a)
        {
            scale = Math.Max(scale, Math.Abs(x));
        }

        var tiny = scale * n * double.Epsilon * 1e10;
        for (var col = 0; col < n; col++)
        {
            var piv = col;
            for (var r = col + 1; r < n; r++)
            {
                if (Math.Abs(a[(r * n) + col]) > Math.Abs(a[(piv * n) + col]))
                {
                    piv = r;
                }
            }

            var p = a[(piv * n) + col];
            if (!(Math.Abs(p) > tiny) || !double.IsFinite(p))
            {
                return false;
            }

            if (piv != col)
            {
                for (var j = 0; j < n; j++)
                {
                    (a[(col * n) + j], a[(piv * n) + j]) = (a[(piv * n) + j], a[(col * n) + j]);
                }

                (b[col], b[piv]) = (b[piv], b[col]);
            }

            for (var r = col + 1; r < n; r++)
            {
                var f = a[(r * n) + col] / p;
                if (f != 0)
                {
                    TensorPrimitives.MultiplyAdd(a.Slice((col * n) + col, n - col), -f, a.Slice((r * n) + col, n - col), a.Slice((r * n) + col, n - col));
                    b[r] -= f * b[col];
                }
            }
        }

        for (var i = n - 1; i >= 0; i--)
        {
            var s = b[i] - TensorPrimitives.Dot(a.Slice((i * n) + i + 1, n - i - 1), b.Slice(i + 1, n - i - 1));
            b[i] = s / a[(i * n) + i];
        }

        return true;
    }

    /// <summary>Float64 form of <see cref="TryCholeskyFactor{T}"/> (callable with a <c>double[]</c>).</summary>
    public static bool TryCholeskyFactor(Span<double> a, int n) => TryCholeskyFactor<double>(a, n);

    /// <summary>Float32 form of <see cref="TryCholeskyFactor{T}"/> (callable with a <c>float[]</c>).</summary>
    public static bool TryCholeskyFactor(Span<float> a, int n) => TryCholeskyFactor<float>(a, n);

    /// <summary>Float64 form of <see cref="CholeskyFactor{T}"/>.</summary>
    public static void CholeskyFactor(Span<double> a, int n) => CholeskyFactor<double>(a, n);

    /// <summary>Float32 form of <see cref="CholeskyFactor{T}"/>.</summary>
    public static void CholeskyFactor(Span<float> a, int n) => CholeskyFactor<float>(a, n);

    /// <summary>Float64 form of <see cref="CholeskySolve{T}"/>.</summary>
    public static void CholeskySolve(ReadOnlySpan<double> factor, int n, Span<double> b, int columns = 1) => CholeskySolve<double>(factor, n, b, columns);

    /// <summary>Float32 form of <see cref="CholeskySolve{T}"/>.</summary>
    public static void CholeskySolve(ReadOnlySpan<float> factor, int n, Span<float> b, int columns = 1) => CholeskySolve<float>(factor, n, b, columns);

    /// <summary>Float64 form of <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>.</summary>
    public static bool TryCholeskyInvert(Span<double> a, int n) => TryCholeskyInvert<double>(a, n, parallel: false);

    /// <summary>Float32 form of <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>.</summary>
    public static bool TryCholeskyInvert(Span<float> a, int n) => TryCholeskyInvert<float>(a, n, parallel: false);

    /// <summary>Float64 form of <see cref="CholeskyInvert{T}"/>.</summary>
    public static void CholeskyInvert(Span<double> a, int n) => CholeskyInvert<double>(a, n);

    /// <summary>Float32 form of <see cref="CholeskyInvert{T}"/>.</summary>
    public static void CholeskyInvert(Span<float> a, int n) => CholeskyInvert<float>(a, n);

    private static void CheckSquare(int length, int n)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        if (length != n * n)
        {
            throw new ArgumentException($"Expected an {n} × {n} matrix ({n * n} elements), got {length}.");
        }
    }
}
