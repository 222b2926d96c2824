using System.Numerics;
using System.Numerics.Tensors;

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
        using var mRental = new Rental<T>(len);
        var m = mRental.Array;
        a.CopyTo(m);
        a.Clear();
        using var resRental = new Rental<T>(len);
        var res = resRental.Array;
        res.AsSpan(0, len).Clear();
        // (L⁻ᵀL⁻¹)_ij = Σ_{k ≥ max(i,j)} M_ki M_kj with M = L⁻¹ lower triangular: row panel [i0, i1) of the lower
        // half needs only k ≥ i0 (M_ki = 0 for k < i), so the panels do ≈ n³/3 flops where one lower-half GEMM does n³.
        for (var i0 = 0; i0 < n; i0 += Nb)
        {
            var i1 = Math.Min(n, i0 + Nb);
            Gemm.Multiply(i1 - i0, i1, n - i0, T.One, StridedMatrix<T>.Transposed(m, (i0 * n) + i0, n), StridedMatrix<T>.RowMajor(m, i0 * n, n), res, i0 * n, n, lowerOnly: false, parallel: parallel);
        }

        SymmetricMirror.LowerToUpper(res.AsSpan(0, len), n);
        res.AsSpan(0, len).CopyTo(a);
    }

    /// <summary>Float64 form of <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>.</summary>
    public static bool TryCholeskyInvert(Span<double> a, int n) => TryCholeskyInvert<double>(a, n, parallel: false);

    /// <summary>Float32 form of <see cref="TryCholeskyInvert{T}(Span{T}, int)"/>.</summary>
    public static bool TryCholeskyInvert(Span<float> a, int n) => TryCholeskyInvert<float>(a, n, parallel: false);

    /// <summary>Float64 form of <see cref="CholeskyInvert{T}"/>.</summary>
    public static void CholeskyInvert(Span<double> a, int n) => CholeskyInvert<double>(a, n);

    /// <summary>Float32 form of <see cref="CholeskyInvert{T}"/>.</summary>
    public static void CholeskyInvert(Span<float> a, int n) => CholeskyInvert<float>(a, n);
}
