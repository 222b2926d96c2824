using System.Numerics;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>
    /// Width of the diagonal blocks of <see cref="TryCholeskyFactor{T}"/> and of those swept at once by
    /// <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>: the depth of their GEMMs (deep enough for the micro-kernel to run
    /// near its peak) against the leaf's (about b³/3 flops to factor a block, as many again to invert it).
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

    /// <summary>
    /// Right-looking blocked Cholesky in place, by diagonal blocks K of <see cref="SweepBlock"/> indices: the leaf
    /// (<see cref="CholeskyLeaf"/>) factors the updated A_KK = UᵀU, so L_KK = Uᵀ, and inverts V = U⁻¹; then
    /// L_iK = A_iK·L_KK⁻ᵀ = A_iK·V for the rows below by one triangular product into a contiguous panel Z, and A_ij −=
    /// Z_iZ_jᵀ by one rank-b update of the lower triangle where it lies (<see cref="Gemm.LowerRankUpdate{T}"/>). The pivots
    /// are tested in order, as an unblocked Cholesky tests them: the first one ≤ 0 or NaN fails, its index and value out.
    /// </summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe bool CholeskyCore<T>(Span<T> a, int n, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(a.Length, n);

        // The leaf's block (at most 64 × 64) lives on the stack, and a single block needs no panel: small factors rent nothing.
        var bMax = Math.Min(SweepBlock, Math.Max(n, 1));
        var ls = CholeskyLeaf.Stride<T>(bMax);
        var s = stackalloc T[bMax * ls];
        using var zRental = new Rental<T>(n > bMax ? (n - bMax) * bMax : 0);
        fixed (T* pa = a, z = zRental.Array)
        {
            for (var k0 = 0; k0 < n; k0 += SweepBlock)
            {
                var b = Math.Min(SweepBlock, n - k0);
                if (!CholeskyLeaf.FactorBlock(pa, n, k0, b, s, ls, out pivot, out value))
                {
                    return false;
                }

                // L_KK = Uᵀ.
                for (var p = 0; p < b; p++)
                {
                    var row = pa + ((k0 + p) * n) + k0;
                    for (var q = 0; q <= p; q++)
                    {
                        row[q] = s[(q * ls) + p];
                    }
                }

                var k1 = k0 + b;
                var r = n - k1;
                if (r == 0)
                {
                    break;
                }

                CholeskyLeaf.Invert(s, b, ls);
                var a21 = pa + (k1 * n) + k0;
                new Span<T>(z, r * b).Clear();
                Gemm.MultiplyUpperTriangular(r, b, PinnedMatrix<T>.RowMajor(a21, n, transpose: false), s, ls, z, b, false);
                for (var i = 0; i < r; i++)
                {
                    new ReadOnlySpan<T>(z + (i * b), b).CopyTo(new Span<T>(a21 + (i * n), b));
                }

                Gemm.LowerRankUpdate(r, b, z, b, pa + (k1 * n) + k1, n, 0, false);
            }
        }

        for (var i = 0; i < n; i++)
        {
            a.Slice((i * n) + i + 1, n - i - 1).Clear();
        }

        pivot = -1;
        value = T.Zero;
        return true;
    }
}
