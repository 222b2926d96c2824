using System.Runtime.CompilerServices;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>The Dense strategy's float32 inverse of a block and the residual it must meet (see the class remarks' bound).</summary>
internal sealed partial class DenseStrategy
{
    /// <summary>
    /// The largest relative residual ‖F·X·v − v‖∞/‖v‖∞ a float32 inverse X of F = λI + GᵀG/N may leave, given
    /// <paramref name="trace"/> = tr(GᵀG/N): max(√u₃₂, √KC·u₃₂·tr(GᵀG/N)/λ). The second term is the residual the float32
    /// Gram's own rounding (about √KC·u₃₂·tr(GᵀG/N) in norm, amplified by ‖F⁻¹‖ ≤ 1/λ) already leaves; a float32 inverse
    /// within it adds no error class of its own, and one within the first keeps at least half of float32's digits.
    /// </summary>
    private static double Float32Residual(double trace, double damping)
        => Math.Max(HalfFloat32, Math.Sqrt(LinearAlgebra.MixedPanel) * Math.ScaleB(1.0, -24) * trace / damping);

    /// <summary>tr(GᵀG/N) of F = λI + GᵀG/N in <paramref name="a"/> (c × c).</summary>
    private static double GramTrace(ReadOnlySpan<double> a, int c, double damping)
    {
        var trace = 0.0;
        for (var i = 0; i < c; i++)
        {
            trace += a[(i * c) + i] - damping;
        }

        return trace;
    }

    /// <summary>
    /// The float32 Cholesky inverse X, into <paramref name="f"/> (c × c), of the float64 matrix F in <paramref name="a"/>
    /// (c × c, lower triangle; left as it is); false when the float32 Cholesky fails, X is not finite, or ‖F·X·v − v‖∞
    /// exceeds <paramref name="tolerance"/>·‖v‖∞ (see <see cref="Probe"/>).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool TryInvertFloat32(ReadOnlySpan<double> a, int c, Span<float> f, bool parallel, double tolerance)
    {
        using var workRental = new Rental<double>(3 * c);
        var work = workRental.Array;
        SimdOps.Convert<double, float>(a, f);
        // A non-finite entry of X makes the residual below NaN or infinite (no v_i = sin(i + 1) is 0), so X needs no
        // separate scan.
        if (!LinearAlgebra.TryCholeskyInvertUnscanned(f, c, parallel))
        {
            return false;
        }

        var v = work.AsSpan(0, c);
        var y = work.AsSpan(c, c);
        var fy = work.AsSpan(2 * c, c);
        Probe(f, c, v, y, fy);

        // F·y from the lower triangle by rows only: row i gives (F y)_i its part left of the diagonal, and each
        // (F y)_j, j < i, its term F_ij·y_i (the column below j's diagonal), so no pass strides down a column.
        for (var i = 0; i < c; i++)
        {
            var left = a.Slice(i * c, i);
            fy[i] += SimdOps.Dot<double>(left, y[..i]) + (a[(i * c) + i] * y[i]);
            SimdOps.Axpy(y[i], left, fy[..i]);
        }

        return WithinResidual(fy, v, tolerance);
    }

    /// <summary>
    /// The residual probe of a float32 inverse X (c × c, full): v_i = sin(i + 1) (no entry 0, so a non-finite entry of X
    /// leaves a non-finite residual) and y = X·v in float64; <paramref name="fy"/>, where the caller forms F·y, cleared.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Probe(ReadOnlySpan<float> x, int c, Span<double> v, Span<double> y, Span<double> fy)
    {
        fy.Clear();
        for (var i = 0; i < c; i++)
        {
            v[i] = Math.Sin(i + 1);
        }

        for (var i = 0; i < c; i++)
        {
            y[i] = SimdOps.DotWidened(x.Slice(i * c, c), v);
        }
    }

    /// <summary>‖F·y − v‖∞ ≤ <paramref name="tolerance"/>·‖v‖∞ (false for a NaN residual).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool WithinResidual(ReadOnlySpan<double> fy, ReadOnlySpan<double> v, double tolerance)
    {
        double residual = 0.0, scale = 0.0;
        for (var i = 0; i < v.Length; i++)
        {
            residual = Math.Max(residual, Math.Abs(fy[i] - v[i]));
            scale = Math.Max(scale, Math.Abs(v[i]));
        }

        return residual <= tolerance * scale;
    }
}
