using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// The Dense strategy's inverse of a block that few rows reach: the Woodbury form of the same F⁻¹, chosen per block by its
/// cost.
/// </summary>
internal sealed partial class DenseStrategy
{
    /// <summary>
    /// Most rows that count (not ±0 in the block) for which a block of c coordinates is inverted in the Woodbury form:
    /// min(c/4, <see cref="LinearAlgebra.MixedPanel"/>). With r such rows that form costs about r²c/2 (XXᵀ) + r²c/2 float64
    /// (the triangular GEMM, at half the float32 rate) + r³/2 multiply-adds against the Cholesky inverse's c³/2, the c²r/2
    /// of WᵀW or XᵀX being common to both, plus passes over the c × c block that both make. Measured on one core at
    /// c = 400 (bench <c>dense-rows</c>), 0.6–1.2 ms for r = 32–96 against 1.5–2.5 ms for the Gram and the Cholesky
    /// inverse, and about even from r ≈ c/3. A ReLU layer's blocks often qualify: a unit that is off for most samples
    /// gives each of its blocks few rows.
    /// </summary>
    internal static int FewRowsMax(int c) => Math.Min(c / 4, LinearAlgebra.MixedPanel);

    /// <summary>Block rows that count, held when few (<see cref="FewRowsMax"/>): <paramref name="Rows"/> × c float32 from <paramref name="Start"/>.</summary>
    private readonly record struct FewRows(float[] Array, int Start, int Rows);

    /// <summary>
    /// Block <paramref name="b"/>'s inverse into <paramref name="target"/>: in the Woodbury form when its rows that count are
    /// <paramref name="few"/> and that form passes, else from its Gram in <paramref name="a"/> (formed here from the few
    /// rows when they were held instead) as <see cref="Invert(int, Span{double}, int, double, double, bool, float[])"/>
    /// does; true when the inverse is float32.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool Invert(int b, Span<double> a, FewRows? few, int c, double damping, double normalizer, bool parallel, float[] target)
    {
        if (few is not { } rows)
        {
            return Invert(b, a, c, damping, normalizer, parallel, target);
        }

        if (TryInvertFewRows(rows, c, damping, normalizer, a, target.AsSpan(0, c * c), parallel))
        {
            Interlocked.Increment(ref _fewRows);
            return true;
        }

        // K's Cholesky failed or the residual test missed: the block's Gram, inverted as any other block's.
        a.Clear();
        LinearAlgebra.SymmetricRankKMixed(true, c, rows.Rows, rows.Array.AsSpan(rows.Start, rows.Rows * c), c, a, c, parallel);
        return Invert(b, a, c, damping, normalizer, parallel, target);
    }

    /// <summary>
    /// F⁻¹ = (I − WᵀW)/λ for F = λI + XᵀX/N with X the block's r rows (r × c): K = NλI + XXᵀ = LLᵀ (XXᵀ from float32
    /// products summed in float64; the factor and L⁻¹ in float64), Wᵀ = XᵀL⁻ᵀ in float64 (one triangular GEMM), WᵀW as the
    /// Gram is formed (float32 products, float64 sums), each entry rounded once to float32 into <paramref name="f"/> (c × c,
    /// full). The eigenvalues of WᵀW = XᵀK⁻¹X lie in [0, 1), so its rounding is absolute, about u₃₂/λ on each entry of F⁻¹
    /// (‖F⁻¹‖ = 1/λ whenever r &lt; c). False when K's Cholesky fails or the result misses the float32 residual test the
    /// Cholesky inverse must pass (with F·y = λy + Xᵀ(Xy)/N in float64); the caller then forms the Gram and inverts it as any
    /// other block.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe bool TryInvertFewRows(FewRows rows, int c, double damping, double normalizer, Span<double> gram, Span<float> f, bool parallel)
    {
        var r = rows.Rows;
        var x = rows.Array.AsSpan(rows.Start, r * c);
        using var kRental = new Rental<double>(2 * r * r);
        using var wRental = new Rental<double>((2 * r * c) + (3 * c));
        var k = kRental.Array.AsSpan(0, r * r);
        var v = kRental.Array.AsSpan(r * r, r * r);
        var x64 = wRental.Array.AsSpan(0, r * c);
        var wt = wRental.Array.AsSpan(r * c, r * c);
        var trace = 0.0;
        gram.Clear();
        SimdOps.Convert<float, double>(x, x64);
        if (r > 0)
        {
            k.Clear();
            LinearAlgebra.SymmetricRankKMixed(false, r, c, x, c, k, r, parallel);
            for (var i = 0; i < r; i++)
            {
                trace += k[(i * r) + i];
                k[(i * r) + i] += normalizer * damping;
            }

            if (!LinearAlgebra.TryCholeskyFactor(k, r))
            {
                return false;
            }

            // V = L⁻ᵀ (upper triangular), then Wᵀ = Xᵀ·V (c × r): the substitution as one GEMM over the triangle's nonzeros.
            LinearAlgebra.LowerTriangularInvert(k, r);
            for (var i = 0; i < r; i++)
            {
                for (var j = 0; j < r; j++)
                {
                    v[(i * r) + j] = j >= i ? k[(j * r) + i] : 0.0;
                }
            }

            wt.Clear();
            fixed (double* px = x64, pv = v, pw = wt)
            {
                Gemm.MultiplyUpperTriangular(c, r, PinnedMatrix<double>.RowMajor(px, c, transpose: true), pv, r, pw, r, parallel);
            }

            LinearAlgebra.SymmetricRankKMixed(false, c, r, wt, r, gram, c, parallel);
        }

        FromWoodbury(gram, c, 1.0 / damping, f);
        SymmetricMirror.LowerToUpper(f, c);

        // F·y = λy + Xᵀ(Xy)/N in float64.
        var probe = wRental.Array.AsSpan(2 * r * c, c);
        var y = wRental.Array.AsSpan((2 * r * c) + c, c);
        var fy = wRental.Array.AsSpan((2 * r * c) + (2 * c), c);
        Probe(f, c, probe, y, fy);
        for (var i = 0; i < r; i++)
        {
            var xi = x64.Slice(i * c, c);
            SimdOps.Axpy(SimdOps.Dot<double>(xi, y) / normalizer, xi, fy);
        }

        SimdOps.Axpy(damping, y, fy);
        return WithinResidual(fy, probe, Float32Residual(trace / normalizer, damping));
    }

    /// <summary>The lower triangle of (I − WᵀW)·<paramref name="scale"/>, WᵀW in <paramref name="wtw"/>, rounded into <paramref name="f"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FromWoodbury(ReadOnlySpan<double> wtw, int c, double scale, Span<float> f)
    {
        var s = Vector256.Create(-scale);
        for (var i = 0; i < c; i++)
        {
            var src = wtw.Slice(i * c, i + 1);
            var dst = f.Slice(i * c, i + 1);
            var j = 0;
            for (; j + 8 <= i; j += 8)
            {
                Vector256.Narrow(Vector256.Create(src.Slice(j, 4)) * s, Vector256.Create(src.Slice(j + 4, 4)) * s).CopyTo(dst[j..]);
            }

            for (; j < i; j++)
            {
                dst[j] = (float)(-src[j] * scale);
            }

            dst[i] = (float)((1.0 - src[i]) * scale);
        }
    }
}
