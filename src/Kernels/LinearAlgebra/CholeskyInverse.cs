using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels;

public static partial class LinearAlgebra
{
    /// <summary>
    /// Replaces the SPD matrix A (n × n row-major, lower triangle read) by its inverse A⁻¹ (full, exactly symmetric).
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
        => TryCholeskyInvertUnscanned(a, n, parallel) && T.IsFinite(TensorPrimitives.MaxMagnitude<T>(a));

    /// <summary>
    /// As <see cref="TryCholeskyInvert{T}(Span{T}, int, bool)"/> without the final pass over A⁻¹ for entries that overflowed:
    /// for a caller whose own check of the result fails on any non-finite entry (a residual ‖A·X·v − v‖ with no zero in
    /// v is then NaN or infinite).
    /// </summary>
    internal static bool TryCholeskyInvertUnscanned<T>(Span<T> a, int n, bool parallel)
        where T : unmanaged, IFloatingPointIeee754<T>
        => CholeskyInvertCore(a, n, parallel, out _, out _);

    /// <summary>Float64 form of <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>.</summary>
    public static bool TryCholeskyInvert(Span<double> a, int n) => TryCholeskyInvert<double>(a, n, parallel: false);

    /// <summary>Float32 form of <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>.</summary>
    public static bool TryCholeskyInvert(Span<float> a, int n) => TryCholeskyInvert<float>(a, n, parallel: false);

    /// <summary>Float64 form of <see cref="CholeskyInvert{T}"/>.</summary>
    public static void CholeskyInvert(Span<double> a, int n) => CholeskyInvert<double>(a, n);

    /// <summary>Float32 form of <see cref="CholeskyInvert{T}"/>.</summary>
    public static void CholeskyInvert(Span<float> a, int n) => CholeskyInvert<float>(a, n);

    /// <summary>
    /// A⁻¹ in place on A's lower triangle by one left-to-right pass over diagonal blocks K of <see cref="SweepBlock"/>
    /// indices (block Gauss–Jordan elimination, the sweep operator, through Cholesky factors). With T the matrix so far,
    /// P = T_KK = UᵀU (a Schur complement of A, SPD exactly when A is; V = U⁻¹) and Z = T_·K·V for the indices i ∉ K:
    /// T_ij += Z_iZ_jᵀ where i and j are both already swept, T_ij −= Z_iZ_jᵀ for the other i, j ∉ K; then T_KK ← VVᵀ = P⁻¹
    /// and T_iK ← Z_iVᵀ (i swept) or −Z_iVᵀ (i not yet swept). Once every block is swept, T = A⁻¹. The updates of the
    /// indices not yet swept are a right-looking Cholesky's, so the sweep fails exactly where the factorization would (a
    /// pivot ≤ 0 or NaN), and the symmetric ZZᵀ form keeps the residual at a Cholesky inverse's (forming X·P⁻¹·Xᵀ with an
    /// explicit P⁻¹ instead loses about two digits). All of a step's rewrites are one signed rank-b update of the lower
    /// triangle where it lies (<see cref="Gemm.LowerRankUpdate{T}"/>); about n³(1 + 1.5b/n) flops.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe bool CholeskyInvertCore<T>(Span<T> a, int n, bool parallel, out int pivot, out T value)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSquare(a.Length, n);
        var bMax = Math.Min(SweepBlock, Math.Max(n, 1));
        var ls = CholeskyLeaf.Stride<T>(bMax);
        using var rental = new Rental<T>((n * bMax) + (bMax * ls) + (128 / sizeof(T)));
        fixed (T* pa = a, start = rental.Array)
        {
            // Both panels start on a cache line: whole-register loads and stores that straddle two lines cost double.
            var s = (T*)(((nint)start + 63) & ~(nint)63);
            var z = (T*)(((nint)(s + (bMax * ls)) + 63) & ~(nint)63);
            for (var k0 = 0; k0 < n; k0 += SweepBlock)
            {
                var b = Math.Min(SweepBlock, n - k0);
                var k1 = k0 + b;
                var r = n - k1;
                if (!CholeskyLeaf.FactorBlock(pa, n, k0, b, s, ls, out pivot, out value))
                {
                    return false;
                }

                CholeskyLeaf.Invert(s, b, ls);

                // Z = X·V: X_i = T_iK is row block K transposed left of the diagonal, column block K below it.
                new Span<T>(z, k0 * b).Clear();
                new Span<T>(z + (k1 * b), r * b).Clear();
                Gemm.MultiplyUpperTriangular(k0, b, PinnedMatrix<T>.RowMajor(pa + (k0 * n), n, transpose: true), s, ls, z, b, parallel);
                Gemm.MultiplyUpperTriangular(r, b, PinnedMatrix<T>.RowMajor(pa + (k1 * n) + k0, n, transpose: false), s, ls, z + (k1 * b), b, parallel);
                for (var p = 0; p < b; p++)
                {
                    new ReadOnlySpan<T>(s + (p * ls), b).CopyTo(new Span<T>(z + ((k0 + p) * b), b));
                }

                // With W = (Z_swept; V; Z_rest), every rewrite is one signed rank-b update of the lower triangle: rows i < k1
                // get +W_iW_jᵀ (T_ij += Z_iZ_jᵀ, T_Kj = VZ_jᵀ, T_KK = VVᵀ), the rows below −W_iW_jᵀ (T_ij −= Z_iZ_jᵀ,
                // T_iK = −Z_iVᵀ), once row block K and column block K below it are cleared.
                for (var p = 0; p < b; p++)
                {
                    new Span<T>(pa + ((k0 + p) * n), k1).Clear();
                }

                for (var i = k1; i < n; i++)
                {
                    new Span<T>(pa + (i * n) + k0, b).Clear();
                }

                Gemm.LowerRankUpdate(n, b, z, b, pa, n, k1, parallel);
            }
        }

        SymmetricMirror.LowerToUpper(a, n);
        pivot = -1;
        value = T.Zero;
        return true;
    }
}
