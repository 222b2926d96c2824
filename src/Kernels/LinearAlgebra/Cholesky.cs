using System.Numerics;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>Block size of the blocked (GEMM-based) factorization, solves and triangular inverse; smaller matrices run unblocked.</summary>
    private const int Nb = 64;

    /// <summary>
    /// Width of the diagonal blocks swept at once by <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>: the depth of its
    /// GEMMs (deep enough for the micro-kernel to run near its peak) against the leaf's rank-one sweeps (b³/2 each).
    /// </summary>
    private const int SweepBlock = 64;

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
        => RequirePositiveDefinite(CholeskyCore(a, n, out var pivot, out var value), pivot, value);

    /// <summary>
    /// Solves A X = B in place given the lower Cholesky factor L of A (n × n); <paramref name="b"/> is n × <paramref name="columns"/>
    /// row-major and is overwritten by X (L Y = B, then Lᵀ X = Y, by <see cref="SolveTriangular{T}"/>).
    /// </summary>
    public static void CholeskySolve<T>(ReadOnlySpan<T> factor, int n, Span<T> b, int columns = 1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        SolveTriangular(factor, n, b, columns, transpose: false);
        SolveTriangular(factor, n, b, columns, transpose: true);
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

    /// <summary>Throws <see cref="MatrixNotPositiveDefiniteException"/> for the failed pivot unless <paramref name="ok"/>.</summary>
    private static void RequirePositiveDefinite<T>(bool ok, int pivot, T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (!ok)
        {
            throw new MatrixNotPositiveDefiniteException(pivot, double.CreateTruncating(value));
        }
    }

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
            using var bufRental = new Rental<T>(n * n);
            var buf = bufRental.Array;
            a.CopyTo(buf);
            ok = CholeskyBlocked(buf, n, out pivot, out value);
            buf.AsSpan(0, n * n).CopyTo(a);
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
                var s = rowI[j] - Cpu.SimdOps.Dot<T>(rowI[..j], a.Slice(j * ld, j));
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
        // Scratch: L11⁻¹ (Nb × Nb), then the panel L21 (up to n × Nb).
        using var rental = new Rental<T>((Nb * Nb) + (n * Nb));
        var scratch = rental.Array;
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

            var li = scratch.AsSpan(0, jb * jb);
            for (var i = 0; i < jb; i++)
            {
                a.AsSpan(((j0 + i) * n) + j0, jb).CopyTo(li.Slice(i * jb, jb));
            }

            LowerTriangularInvert<T>(li, jb);
            var p = scratch.AsSpan(Nb * Nb, rest * jb);
            p.Clear();
            var a21 = ((long)(j0 + jb) * n) + j0;
            Gemm.Multiply(rest, jb, jb, T.One, StridedMatrix<T>.RowMajor(a, a21, n), StridedMatrix<T>.Transposed(scratch, 0, jb), scratch, Nb * Nb, jb);
            for (var i = 0; i < rest; i++)
            {
                p.Slice(i * jb, jb).CopyTo(a.AsSpan((int)(a21 + ((long)i * n)), jb));
            }

            Gemm.Multiply(rest, rest, jb, -T.One, StridedMatrix<T>.RowMajor(a, a21, n), StridedMatrix<T>.Transposed(a, a21, n), a, a21 + jb, n, lowerOnly: true);
        }

        pivot = -1;
        value = T.Zero;
        return true;
    }
}
