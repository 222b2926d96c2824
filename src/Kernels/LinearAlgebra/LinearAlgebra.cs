using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// Dense symmetric-positive-definite linear algebra on row-major n × n spans, in float32 or float64:
/// Cholesky factorization A = LLᵀ, solves with the factor, and the SPD inverse A⁻¹ = L⁻ᵀL⁻¹.
/// </summary>
public static class LinearAlgebra
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

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool CholeskyCore<T>(Span<T> a, int n, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(a.Length, n);
        for (var i = 0; i < n; i++)
        {
            var rowI = a.Slice(i * n, n);
            for (var j = 0; j <= i; j++)
            {
                var s = rowI[j] - SimdOps.Dot<T>(rowI[..j], a.Slice(j * n, j));
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
                    rowI[j] = s / a[(j * n) + j];
                }
            }

            rowI[(i + 1)..].Clear();
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
        var tmp = ArrayPool<T>.Shared.Rent(n);
        try
        {
            for (var i = 0; i < n; i++)
            {
                var r = tmp.AsSpan(0, i);
                r.Clear();
                var rowI = l.Slice(i * n, n);
                for (var k = 0; k < i; k++)
                {
                    SimdOps.Axpy(rowI[k], l.Slice(k * n, k + 1), r[..(k + 1)]);
                }

                var inv = T.One / rowI[i];
                TensorPrimitives.Multiply(r, -inv, rowI[..i]);
                rowI[i] = inv;
                rowI[(i + 1)..].Clear();
            }
        }
        finally
        {
            ArrayPool<T>.Shared.Return(tmp);
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
        foreach (var x in a)
        {
            if (!T.IsFinite(x))
            {
                return false;
            }
        }

        return true;
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
                Gemm.Multiply(n, n, n, T.One, StridedMatrix<T>.Transposed(m, 0, n), StridedMatrix<T>.RowMajor(m, 0, n), res, 0, n, lowerOnly: true, parallel: parallel);
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
