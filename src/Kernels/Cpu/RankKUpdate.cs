using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace WoodFisher.Kernels.Cpu;

/// <summary>
/// k gradients at once on the CPU, per block: Uᵀ = GₖF⁻¹, S = N·I + GₖU = LLᵀ (float64), Wᵀ = L⁻¹Uᵀ, F⁻¹ ← F⁻¹ − WWᵀ,
/// the same result as k Sherman–Morrison updates up to rounding, as matrix–matrix work near the GEMM rate.
/// </summary>
internal static class RankKUpdate<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>
    /// Rank-k panel size k ≈ c/4 in [32, 96] (at most: the rows of one call are split evenly into panels). U costs 2c²k
    /// and the lower half of WWᵀ about c²k (the nominal count is 4c²k), while the half of S, the triangular W and the
    /// k × k Cholesky add about 2ck² + k³/3, so k/c is the overhead; k below ~32 starves the FMA micro-kernel. The cap
    /// was measured (`rankk-block`, one core, m = 1024, continued panels): k = 96 against 128 gave 62–63% against 58–59%
    /// of peak at c = 512, 72% against 70% at c = 768, 49% against 46% at c = 400 and 73% against 72% at c = 1024;
    /// k = 48 or 64 lost 4–10 points from c = 400 on.
    /// </summary>
    internal static int Panel(int c, int rows)
    {
        // Split the rows evenly rather than leave a short last panel (128 rows as 96 + 32 starved the last one), in
        // whole 6-row micro-tiles (1,024 rows as 10 × 96 + 64, not 11 × 94 with a 4-row tile in each panel).
        var k = Math.Clamp(c / 4, 32, CpuBackend.MaxPanel);
        var panels = Math.Max(1, (rows + k - 1) / k);
        var even = (rows + panels - 1) / panels;
        return Math.Max(1, Math.Min(rows, (even + Gemm.MR - 1) / Gemm.MR * Gemm.MR));
    }

    /// <summary>
    /// Smallest block updated in its lower triangle only (then mirrored): below it the register tiles straddling the
    /// diagonal leave little to skip, and the full product (bitwise symmetric by itself) measured faster.
    /// </summary>
    private const int HalfUpdateMin = 256;

    /// <summary>Largest first panel of a fresh block (see <see cref="Block"/>).</summary>
    private const int FreshPanelMax = 256;

    /// <summary>Rows of W = L⁻¹Uᵀ per forward-substitution step: a multiple of the micro-kernel's 6 rows.</summary>
    private const int TrianglePanel = 6 * Gemm.MR;

    public static void Apply<TSrc>(CpuBlockStorage<T> s, PinnedRows<TSrc> g, int rows, double normalizer)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        if (rows == 0)
        {
            return;
        }

        var layout = s.Layout;
        var inner = layout.Count < Environment.ProcessorCount;
        BlockParallel.For(layout.Count, b => Block(s, b, g, rows, normalizer, inner));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block<TSrc>(CpuBlockStorage<T> s, int b, PinnedRows<TSrc> g, int rows, double normalizer, bool parallel)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        var c = s.Layout.Size(b);
        var half = c >= HalfUpdateMin;
        var f = s.Blocks[b];

        var sigma = s.ScaledIdentity[b];
        s.ScaledIdentity[b] = T.NaN;

        // A fresh block's first panel skips the c²k product, so it pays c²k₀ + 2ck₀² + k₀³/3 where a general panel pays
        // 3c²k + …: the flops per gradient are least near k₀ = c/2, so that panel takes up to c/2 rows (at most 256);
        // the rest are split evenly into panels of at most Panel(c).
        var first = T.IsNaN(sigma) ? 0 : Math.Min(rows, Math.Max(Panel(c, rows), Math.Min(c / 2, FreshPanelMax)));
        var step = rows > first ? Panel(c, rows - first) : 0;
        var k = Math.Max(first, step);
        var pool = ArrayPool<T>.Shared;
        var gk = pool.Rent(k * c);
        var ut = pool.Rent(c * k);
        var wt = pool.Rent(c * k);
        var sm = pool.Rent(k * k);
        var lf = pool.Rent(k * k);
        var dinv = pool.Rent(k * TrianglePanel);
        var dblock = ArrayPool<double>.Shared.Rent(TrianglePanel * TrianglePanel);
        var sd = ArrayPool<double>.Shared.Rent(k * k);
        try
        {
            try
            {
                for (var r0 = 0; r0 < rows;)
                {
                    var kk = r0 == 0 && first > 0 ? first : Math.Min(step, rows - r0);
                    for (var r = 0; r < kk; r++)
                    {
                        SimdOps.Convert<TSrc, T>(g.Span.Slice((int)(((r0 + r) * (long)s.Layout.Dimension) + s.Layout.Offset(b)), c), gk.AsSpan(r * c, c));
                    }

                    // Uᵀ = Gₖ F (kk × c). Between panels only F's lower triangle is current (the update below writes just that
                    // half), so F is read as a symmetric view. Working with transposes keeps every large operand contiguous.
                    if (r0 == 0 && !T.IsNaN(sigma))
                    {
                        // F = σI (a fresh block): Uᵀ = σGₖ exactly as the product would give it, without the c²k product.
                        TensorPrimitives.Multiply(gk.AsSpan(0, kk * c), sigma, ut.AsSpan(0, kk * c));
                    }
                    else
                    {
                        ut.AsSpan(0, kk * c).Clear();
                        Gemm.Multiply(kk, c, c, T.One, StridedMatrix<T>.RowMajor(gk, 0, c), half ? StridedMatrix<T>.SymmetricLower(f, 0, c) : StridedMatrix<T>.RowMajor(f, 0, c), ut, 0, c, parallel: parallel);
                    }

                    // S = N·I + Gₖ U (kk × kk, lower triangle: all the Cholesky reads), factored in float64: S = LLᵀ
                    sm.AsSpan(0, kk * kk).Clear();
                    Gemm.Multiply(kk, kk, c, T.One, StridedMatrix<T>.RowMajor(gk, 0, c), StridedMatrix<T>.Transposed(ut, 0, c), sm, 0, kk, lowerOnly: true, parallel: parallel);
                    var sds = sd.AsSpan(0, kk * kk);
                    SimdOps.Convert<T, double>(sm.AsSpan(0, kk * kk), sds);
                    for (var i = 0; i < kk; i++)
                    {
                        sds[(i * kk) + i] += normalizer;
                    }

                    if (!LinearAlgebra.TryCholeskyFactor<double>(sds, kk))
                    {
                        throw new BlockNotPositiveDefiniteException(b, $"Cholesky of S = N·I + GF⁻¹Gᵀ failed for gradients {r0}..{r0 + kk - 1}");
                    }

                    SimdOps.Convert<double, T>(sds, lf.AsSpan(0, kk * kk));

                    // Wᵀ = L⁻¹Uᵀ by blocked forward substitution, Wᵀ_I = L_II⁻¹ (Uᵀ_I − L_I,:I Wᵀ_:I), in place of Uᵀ's rows
                    // (no longer needed): only the small diagonal blocks are inverted (first, all of them), and no product
                    // touches L's zeros. The columns of Uᵀ are independent, so with a block to itself on several cores each
                    // core substitutes its own slab of columns.
                    for (var i0 = 0; i0 < kk; i0 += TrianglePanel)
                    {
                        var ib = Math.Min(TrianglePanel, kk - i0);
                        var dd = dblock.AsSpan(0, ib * ib);
                        for (var r = 0; r < ib; r++)
                        {
                            sds.Slice(((i0 + r) * kk) + i0, ib).CopyTo(dd.Slice(r * ib, ib));
                        }

                        LinearAlgebra.LowerTriangularInvert<double>(dd, ib);
                        SimdOps.Convert<double, T>(dd, dinv.AsSpan(i0 * TrianglePanel, ib * ib));
                    }

                    var slabs = parallel ? Math.Min(Environment.ProcessorCount, Math.Max(1, c / (4 * Gemm.NR<T>()))) : 1;
                    var slab = (((c + slabs - 1) / slabs) + Gemm.NR<T>() - 1) / Gemm.NR<T>() * Gemm.NR<T>();
                    BlockParallel.For((c + slab - 1) / slab, [MethodImpl(MethodImplOptions.AggressiveOptimization)] (part) => ForwardSubstitute(lf, kk, dinv, ut, wt, c, part * slab, Math.Min(slab, c - (part * slab))));

                    // F ← F − WWᵀ = F − U S⁻¹ Uᵀ, lower triangle only.
                    Gemm.Multiply(c, c, kk, -T.One, StridedMatrix<T>.Transposed(wt, 0, c), StridedMatrix<T>.RowMajor(wt, 0, c), f, 0, c, lowerOnly: half, parallel: parallel);
                    r0 += kk;
                }
            }
            finally
            {
                // One mirror per block, not per panel (and also when a panel fails), makes F exactly symmetric again.
                if (half)
                {
                    Gemm.MirrorLower<T>(f.AsSpan(0, c * c), c);
                }
            }

            BlockOps<T>.RequirePositiveDiagonal(f, c, b, "the rank-k update");
        }
        finally
        {
            pool.Return(gk);
            pool.Return(ut);
            pool.Return(wt);
            pool.Return(sm);
            pool.Return(lf);
            pool.Return(dinv);
            ArrayPool<double>.Shared.Return(dblock);
            ArrayPool<double>.Shared.Return(sd);
        }
    }

    /// <summary>
    /// Columns j0 … j0+n−1 of Wᵀ = L⁻¹Uᵀ (kk × c, row-major) by blocked forward substitution: L (kk × kk, lower) in
    /// <paramref name="l"/>, the inverted diagonal blocks of <see cref="TrianglePanel"/> rows in <paramref name="dinv"/>
    /// (block i at i·TrianglePanel, ib × ib), Uᵀ in <paramref name="ut"/> (overwritten), Wᵀ into <paramref name="wt"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ForwardSubstitute(T[] l, int kk, T[] dinv, T[] ut, T[] wt, int c, int j0, int n)
    {
        for (var i0 = 0; i0 < kk; i0 += TrianglePanel)
        {
            var ib = Math.Min(TrianglePanel, kk - i0);
            Gemm.Multiply(ib, n, i0, -T.One, StridedMatrix<T>.RowMajor(l, i0 * kk, kk), StridedMatrix<T>.RowMajor(wt, j0, c), ut, (i0 * c) + j0, c);
            for (var r = 0; r < ib; r++)
            {
                wt.AsSpan(((i0 + r) * c) + j0, n).Clear();
            }

            Gemm.Multiply(ib, n, ib, T.One, StridedMatrix<T>.RowMajor(dinv, i0 * TrianglePanel, ib), StridedMatrix<T>.RowMajor(ut, (i0 * c) + j0, c), wt, (i0 * c) + j0, c);
        }
    }
}
