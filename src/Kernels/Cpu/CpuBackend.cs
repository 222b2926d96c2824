using System.Buffers;
using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// The SIMD CPU implementation of <see cref="ICurvatureBackend"/>: blocks in managed arrays (float32 or float64),
/// Vector512 or Vector256 FMA kernels chosen at run time, parallel over blocks (and inside a block's matrix products
/// when there are fewer blocks than cores).
/// </summary>
public sealed class CpuBackend : ICurvatureBackend
{
    /// <summary>Largest rank-k panel (gradients folded in per matrix–matrix step).</summary>
    internal const int MaxPanel = 96;

    /// <inheritdoc />
    public string Name => "cpu-" + Gemm.PathName;

    /// <inheritdoc />
    public IBlockStorage Allocate(BlockLayout layout, Precision precision)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return precision switch
        {
            Precision.Float32 => new CpuBlockStorage<float>(layout, precision),
            Precision.Float64 => new CpuBlockStorage<double>(layout, precision),
            _ => throw new ArgumentOutOfRangeException(nameof(precision), precision, "Unknown precision."),
        };
    }

    /// <inheritdoc />
    public void SetScaledIdentity(IBlockStorage storage, double value)
    {
        if (storage is CpuBlockStorage<float> f)
        {
            CpuKernels<float>.SetScaledIdentity(f, value);
        }
        else
        {
            CpuKernels<double>.SetScaledIdentity(Double(storage), value);
        }
    }

    /// <inheritdoc />
    public void Write(IBlockStorage storage, ReadOnlySpan<double> blocks)
    {
        CheckLength(blocks.Length, Check(storage).Layout.SquareLength, nameof(blocks));
        if (storage is CpuBlockStorage<float> f)
        {
            CpuKernels<float>.Write(f, blocks);
        }
        else
        {
            CpuKernels<double>.Write(Double(storage), blocks);
        }
    }

    /// <inheritdoc />
    public void Read(IBlockStorage storage, Span<double> blocks)
    {
        CheckLength(blocks.Length, Check(storage).Layout.SquareLength, nameof(blocks));
        if (storage is CpuBlockStorage<float> f)
        {
            CpuKernels<float>.Read(f, blocks);
        }
        else
        {
            CpuKernels<double>.Read(Double(storage), blocks);
        }
    }

    /// <inheritdoc />
    public void ReadBlock(IBlockStorage storage, int block, Span<double> destination)
    {
        var layout = Check(storage).Layout;
        ArgumentOutOfRangeException.ThrowIfNegative(block);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(block, layout.Count);
        var c = layout.Size(block);
        CheckLength(destination.Length, (long)c * c, nameof(destination));
        if (storage is CpuBlockStorage<float> f)
        {
            TensorPrimitives.ConvertTruncating<float, double>(f.Blocks[block], destination);
        }
        else
        {
            Double(storage).Blocks[block].CopyTo(destination);
        }
    }

    /// <inheritdoc />
    public void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: false);

    /// <inheritdoc />
    public void RankOneUpdates(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: false);

    /// <inheritdoc />
    public void RankKUpdate(IBlockStorage storage, ReadOnlySpan<double> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: true);

    /// <inheritdoc />
    public void RankKUpdate(IBlockStorage storage, ReadOnlySpan<float> gradients, int rows, double normalizer)
        => Update(storage, gradients, rows, normalizer, rankK: true);

    /// <inheritdoc />
    public void Diagonal(IBlockStorage storage, Span<double> diagonal)
    {
        var layout = Check(storage).Layout;
        CheckLength(diagonal.Length, layout.Dimension, nameof(diagonal));
        if (storage is CpuBlockStorage<float> f)
        {
            CpuKernels<float>.Diagonal(f, diagonal);
        }
        else
        {
            CpuKernels<double>.Diagonal(Double(storage), diagonal);
        }
    }

    /// <inheritdoc />
    public void Multiply(IBlockStorage storage, ReadOnlySpan<double> vectors, Span<double> result, int count)
    {
        var layout = Check(storage).Layout;
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        CheckLength(vectors.Length, (long)count * layout.Dimension, nameof(vectors));
        CheckLength(result.Length, (long)count * layout.Dimension, nameof(result));
        var v = vectors.ToArray();
        var r = new double[result.Length];
        if (storage is CpuBlockStorage<float> f)
        {
            CpuKernels<float>.Multiply(f, v, r, count);
        }
        else
        {
            CpuKernels<double>.Multiply(Double(storage), v, r, count);
        }

        r.CopyTo(result);
    }

    /// <inheritdoc />
    public void ObsUpdate(IBlockStorage storage, Span<double> weights, ReadOnlySpan<bool> mask)
    {
        var layout = Check(storage).Layout;
        CheckLength(weights.Length, layout.Dimension, nameof(weights));
        CheckLength(mask.Length, layout.Dimension, nameof(mask));
        var w = weights.ToArray();
        var q = mask.ToArray();
        if (storage is CpuBlockStorage<float> f)
        {
            CpuKernels<float>.ObsUpdate(f, w, q);
        }
        else
        {
            CpuKernels<double>.ObsUpdate(Double(storage), w, q);
        }

        w.CopyTo(weights);
    }

    /// <inheritdoc />
    public void Dispose()
    {
    }

    private static IBlockStorage Check(IBlockStorage storage)
    {
        ArgumentNullException.ThrowIfNull(storage);
        if (storage is not CpuBlockStorage<float> and not CpuBlockStorage<double>)
        {
            throw new ArgumentException($"Storage of type {storage.GetType().Name} was not allocated by the CPU backend.", nameof(storage));
        }

        return storage;
    }

    private static CpuBlockStorage<double> Double(IBlockStorage storage) => (CpuBlockStorage<double>)Check(storage);

    private static void CheckLength(long actual, long expected, string name)
    {
        if (actual != expected)
        {
            throw new ArgumentException($"Expected {expected} elements, got {actual}.", name);
        }
    }

    private static unsafe void Update<TSrc>(IBlockStorage storage, ReadOnlySpan<TSrc> gradients, int rows, double normalizer, bool rankK)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        CheckGradients(Check(storage).Layout, gradients.Length, rows, normalizer);

        // Spans cannot enter the parallel block lambdas, so the rows stay pinned for the call and go in by address
        // (float32 rows are read as they are: no widened copy of G).
        fixed (TSrc* p = gradients)
        {
            var g = new PinnedRows<TSrc>(p, gradients.Length);
            if (storage is CpuBlockStorage<float> f)
            {
                if (rankK)
                {
                    CpuKernels<float>.RankKUpdate(f, g, rows, normalizer);
                }
                else
                {
                    CpuKernels<float>.RankOneUpdates(f, g, rows, normalizer);
                }
            }
            else if (rankK)
            {
                CpuKernels<double>.RankKUpdate(Double(storage), g, rows, normalizer);
            }
            else
            {
                CpuKernels<double>.RankOneUpdates(Double(storage), g, rows, normalizer);
            }
        }
    }

    private static void CheckGradients(BlockLayout layout, int length, int rows, double normalizer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        CheckLength(length, (long)rows * layout.Dimension, "gradients");
        if (!(normalizer > 0) || !double.IsFinite(normalizer))
        {
            throw new ArgumentOutOfRangeException(nameof(normalizer), normalizer, "Normalizer N must be positive and finite.");
        }
    }
}

/// <summary>
/// Gradient rows (row-major float32 or float64) that the caller keeps pinned for the duration of one backend call, so
/// the parallel block loops can read them without copying them into an array first.
/// </summary>
internal readonly unsafe struct PinnedRows<TSrc>(TSrc* data, int length)
    where TSrc : unmanaged
{
    private readonly TSrc* _data = data;
    private readonly int _length = length;

    /// <summary>The rows as a span (valid only while the caller's <c>fixed</c> statement is in scope).</summary>
    public ReadOnlySpan<TSrc> Span => new(_data, _length);
}

/// <summary>The CPU kernels, written once for float and double storage.</summary>
internal static class CpuKernels<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void SetScaledIdentity(CpuBlockStorage<T> s, double value)
    {
        var v = T.CreateTruncating(value);
        BlockParallel.For(s.Layout.Count, b =>
        {
            var blk = s.Blocks[b];
            var c = s.Layout.Size(b);
            Array.Clear(blk);
            for (var i = 0; i < c; i++)
            {
                blk[(i * c) + i] = v;
            }

            s.ScaledIdentity[b] = v;
        });
    }

    public static void Write(CpuBlockStorage<T> s, ReadOnlySpan<double> src)
    {
        s.ForgetIdentity();
        for (var b = 0; b < s.Layout.Count; b++)
        {
            var blk = s.Blocks[b];
            TensorPrimitives.ConvertTruncating<double, T>(src.Slice((int)s.Layout.SquareOffset(b), blk.Length), blk);
        }
    }

    public static void Read(CpuBlockStorage<T> s, Span<double> dst)
    {
        for (var b = 0; b < s.Layout.Count; b++)
        {
            var blk = s.Blocks[b];
            TensorPrimitives.ConvertTruncating<T, double>(blk, dst.Slice((int)s.Layout.SquareOffset(b), blk.Length));
        }
    }

    public static void Diagonal(CpuBlockStorage<T> s, Span<double> diagonal)
    {
        for (var b = 0; b < s.Layout.Count; b++)
        {
            var c = s.Layout.Size(b);
            var off = s.Layout.Offset(b);
            var blk = s.Blocks[b];
            for (var i = 0; i < c; i++)
            {
                diagonal[off + i] = double.CreateTruncating(blk[(i * c) + i]);
            }
        }
    }

    private static void LoadRow(double[] g, long start, Span<T> dst) => TensorPrimitives.ConvertTruncating<double, T>(g.AsSpan((int)start, dst.Length), dst);

    private static void LoadRow<TSrc>(PinnedRows<TSrc> g, long start, Span<T> dst)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
        => TensorPrimitives.ConvertTruncating<TSrc, T>(g.Span.Slice((int)start, dst.Length), dst);

    public static void RankOneUpdates<TSrc>(CpuBlockStorage<T> s, PinnedRows<TSrc> g, int rows, double normalizer)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        s.ForgetIdentity();
        if (rows == 0)
        {
            return;
        }

        // One huge block: split each update's rows across cores (a barrier per gradient pays off from c ≈ 512).
        var inner = s.Layout.Count < Environment.ProcessorCount && s.Layout.BlockSize >= 512;
        BlockParallel.For(s.Layout.Count, b => RankOneBlock(s, b, g, rows, normalizer, inner));
    }

    /// <summary>Rows [i0, i1) of F ← F − (u/denominator)uᵀ fused with uNext = F_new gNext.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void UpdateRows(T[] f, int c, int i0, int i1, T[] u, T inv, T[] uNext, T[] gNext)
    {
        for (var i = i0; i < i1; i++)
        {
            uNext[i] = SimdOps.AxpyThenDot<T>(f.AsSpan(i * c, c), u[i] * inv, u, gNext);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RankOneBlock<TSrc>(CpuBlockStorage<T> s, int b, PinnedRows<TSrc> g, int rows, double normalizer, bool parallel)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        var layout = s.Layout;
        var d = layout.Dimension;
        var c = layout.Size(b);
        var off = layout.Offset(b);
        var f = s.Blocks[b];
        var gCur = new T[c];
        var gNext = new T[c];
        var u = new T[c];
        var uNext = new T[c];
        LoadRow(g, off, gCur);
        for (var i = 0; i < c; i++)
        {
            u[i] = SimdOps.Dot<T>(f.AsSpan(i * c, c), gCur);
        }

        for (var r = 0; r < rows; r++)
        {
            var denom = normalizer + double.CreateTruncating(SimdOps.Dot<T>(gCur, u));
            if (!(denom > 0) || !double.IsFinite(denom))
            {
                throw new BlockNotPositiveDefiniteException(b, $"Sherman–Morrison denominator N + gᵀF⁻¹g = {denom:G6} at gradient {r}");
            }

            var inv = T.CreateTruncating(1.0 / denom);
            var last = r == rows - 1;
            if (!last)
            {
                LoadRow(g, ((long)(r + 1) * d) + off, gNext);
            }

            if (parallel)
            {
                var (uu, un, gn) = (u, uNext, gNext);
                Parallel.For(0, Environment.ProcessorCount, part =>
                {
                    var rowsPer = (c + Environment.ProcessorCount - 1) / Environment.ProcessorCount;
                    UpdateRows(f, c, part * rowsPer, Math.Min(c, (part + 1) * rowsPer), uu, inv, un, gn);
                });
            }
            else
            {
                UpdateRows(f, c, 0, c, u, inv, uNext, gNext);
            }

            (u, uNext) = (uNext, u);
            (gCur, gNext) = (gNext, gCur);
        }

        Symmetrize(f, c);
    }

    /// <summary>Averages the two triangles, removing the rounding asymmetry of the row-wise updates.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Symmetrize(T[] f, int c)
    {
        var half = T.CreateTruncating(0.5);
        for (var i = 0; i < c; i++)
        {
            for (var j = 0; j < i; j++)
            {
                var v = (f[(i * c) + j] + f[(j * c) + i]) * half;
                f[(i * c) + j] = v;
                f[(j * c) + i] = v;
            }
        }
    }

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

    /// <summary>Largest half-updated block (bytes) mirrored after every rank-k panel rather than read through a symmetric view.</summary>
    private const long MirrorEachPanelBytes = 3L << 20;

    /// <summary>Largest first panel of a fresh block (see <see cref="RankKBlock"/>).</summary>
    private const int FreshPanelMax = 256;

    /// <summary>Rows of W = L⁻¹Uᵀ per forward-substitution step: a multiple of the micro-kernel's 6 rows.</summary>
    private const int TrianglePanel = 6 * Gemm.MR;

    public static void RankKUpdate<TSrc>(CpuBlockStorage<T> s, PinnedRows<TSrc> g, int rows, double normalizer)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        if (rows == 0)
        {
            return;
        }

        var layout = s.Layout;
        var inner = layout.Count < Environment.ProcessorCount;
        BlockParallel.For(layout.Count, b => RankKBlock(s, b, g, rows, normalizer, inner));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void RankKBlock<TSrc>(CpuBlockStorage<T> s, int b, PinnedRows<TSrc> g, int rows, double normalizer, bool parallel)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        var layout = s.Layout;
        var d = layout.Dimension;
        var c = layout.Size(b);
        var off = layout.Offset(b);
        var f = s.Blocks[b];
        var half = c >= HalfUpdateMin;

        // While the block fits in L2, mirroring its lower triangle after each panel (an 8 × 8 register transpose, AVX) is
        // cheaper than packing the next U = GₖF⁻¹ through the symmetric view: measured one core, m = 1024, continued
        // panels, 2% faster at c = 512 and 6% at c = 768, the same at c = 1024 (4 MB, where the mirror itself slows).
        var mirrorEachPanel = half && (long)c * c * Unsafe.SizeOf<T>() <= MirrorEachPanelBytes;
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
                        LoadRow(g, ((long)(r0 + r) * d) + off, gk.AsSpan(r * c, c));
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
                        Gemm.Multiply(kk, c, c, T.One, StridedMatrix<T>.RowMajor(gk, 0, c), half && !mirrorEachPanel ? StridedMatrix<T>.SymmetricLower(f, 0, c) : StridedMatrix<T>.RowMajor(f, 0, c), ut, 0, c, parallel: parallel);
                    }

                    // S = N·I + Gₖ U (kk × kk, lower triangle: all the Cholesky reads), factored in float64: S = LLᵀ
                    sm.AsSpan(0, kk * kk).Clear();
                    Gemm.Multiply(kk, kk, c, T.One, StridedMatrix<T>.RowMajor(gk, 0, c), StridedMatrix<T>.Transposed(ut, 0, c), sm, 0, kk, lowerOnly: true, parallel: parallel);
                    var sds = sd.AsSpan(0, kk * kk);
                    TensorPrimitives.ConvertTruncating<T, double>(sm.AsSpan(0, kk * kk), sds);
                    for (var i = 0; i < kk; i++)
                    {
                        sds[(i * kk) + i] += normalizer;
                    }

                    if (!LinearAlgebra.TryCholeskyFactor<double>(sds, kk))
                    {
                        throw new BlockNotPositiveDefiniteException(b, $"Cholesky of S = N·I + GF⁻¹Gᵀ failed for gradients {r0}..{r0 + kk - 1}");
                    }

                    TensorPrimitives.ConvertTruncating<double, T>(sds, lf.AsSpan(0, kk * kk));

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
                        TensorPrimitives.ConvertTruncating<double, T>(dd, dinv.AsSpan(i0 * TrianglePanel, ib * ib));
                    }

                    var slabs = parallel ? Math.Min(Environment.ProcessorCount, Math.Max(1, c / (4 * Gemm.NR<T>()))) : 1;
                    var slab = (((c + slabs - 1) / slabs) + Gemm.NR<T>() - 1) / Gemm.NR<T>() * Gemm.NR<T>();
                    BlockParallel.For((c + slab - 1) / slab, part => ForwardSubstitute(lf, kk, dinv, ut, wt, c, part * slab, Math.Min(slab, c - (part * slab))));

                    // F ← F − WWᵀ = F − U S⁻¹ Uᵀ, lower triangle only.
                    Gemm.Multiply(c, c, kk, -T.One, StridedMatrix<T>.Transposed(wt, 0, c), StridedMatrix<T>.RowMajor(wt, 0, c), f, 0, c, lowerOnly: half, parallel: parallel);
                    if (mirrorEachPanel && r0 + kk < rows)
                    {
                        Gemm.MirrorLower<T>(f.AsSpan(0, c * c), c);
                    }

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

            for (var i = 0; i < c; i++)
            {
                var dii = f[(i * c) + i];
                if (!(dii > T.Zero) || !T.IsFinite(dii))
                {
                    throw new BlockNotPositiveDefiniteException(b, $"diagonal entry {i} of F⁻¹ is {dii} after the rank-k update");
                }
            }
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

    public static void Multiply(CpuBlockStorage<T> s, double[] v, double[] result, int count)
    {
        var layout = s.Layout;
        var d = layout.Dimension;
        BlockParallel.For(layout.Count, b =>
        {
            var c = layout.Size(b);
            var off = layout.Offset(b);
            var f = s.Blocks[b];
            var vt = new T[count * c];
            for (var r = 0; r < count; r++)
            {
                LoadRow(v, ((long)r * d) + off, vt.AsSpan(r * c, c));
            }

            var rt = new T[count * c];
            if (count >= 4)
            {
                // R = V F (F symmetric, so each row of R is F v)
                Gemm.Multiply(count, c, c, T.One, StridedMatrix<T>.RowMajor(vt, 0, c), StridedMatrix<T>.RowMajor(f, 0, c), rt, 0, c);
            }
            else
            {
                for (var r = 0; r < count; r++)
                {
                    var vr = vt.AsSpan(r * c, c);
                    for (var i = 0; i < c; i++)
                    {
                        rt[(r * c) + i] = SimdOps.Dot<T>(f.AsSpan(i * c, c), vr);
                    }
                }
            }

            for (var r = 0; r < count; r++)
            {
                TensorPrimitives.ConvertTruncating<T, double>(rt.AsSpan(r * c, c), result.AsSpan((int)(((long)r * d) + off), c));
            }
        });
    }

    public static void ObsUpdate(CpuBlockStorage<T> s, double[] weights, bool[] mask)
    {
        var layout = s.Layout;
        BlockParallel.For(layout.Count, b =>
        {
            var c = layout.Size(b);
            var off = layout.Offset(b);
            var qList = new List<int>();
            for (var i = 0; i < c; i++)
            {
                if (!mask[off + i])
                {
                    qList.Add(i);
                }
            }

            if (qList.Count == 0)
            {
                return;
            }

            var f = s.Blocks[b];
            var q = qList.Count;

            // Pooled scratch: at high sparsity q approaches c, and two fresh q × q arrays per block added up to more than
            // the inverse blocks themselves (1.4 GB of garbage for 666 blocks of c = 400).
            var pool = ArrayPool<double>.Shared;
            var sqqArray = pool.Rent(q * q);
            var facArray = pool.Rent(q * q);
            var rowArray = pool.Rent(2 * c);
            try
            {
                var sqq = sqqArray.AsSpan(0, q * q);
                var fac = facArray.AsSpan(0, q * q);
                var alpha = new double[q];
                for (var i = 0; i < q; i++)
                {
                    alpha[i] = weights[off + qList[i]];
                    for (var j = 0; j < q; j++)
                    {
                        sqq[(i * q) + j] = double.CreateTruncating(f[(qList[i] * c) + qList[j]]);
                    }
                }

                sqq.CopyTo(fac);
                if (LinearAlgebra.TryCholeskyFactor<double>(fac, q))
                {
                    LinearAlgebra.CholeskySolve<double>(fac, q, alpha);
                }
                else if (!LinearAlgebra.TrySolveLu(sqq, q, alpha))
                {
                    throw new BlockNotPositiveDefiniteException(b, $"the {q} × {q} principal sub-matrix [F⁻¹]_QQ is singular");
                }

                // w ← w − F⁻¹[:, Q] α, accumulated in float64 from the rows F⁻¹[Q, :] (F⁻¹ is symmetric)
                var delta = rowArray.AsSpan(0, c);
                var row = rowArray.AsSpan(c, c);
                delta.Clear();
                for (var j = 0; j < q; j++)
                {
                    TensorPrimitives.ConvertTruncating<T, double>(f.AsSpan(qList[j] * c, c), row);
                    TensorPrimitives.MultiplyAdd(row, alpha[j], delta, delta);
                }

                for (var i = 0; i < c; i++)
                {
                    weights[off + i] -= delta[i];
                }
            }
            finally
            {
                pool.Return(sqqArray);
                pool.Return(facArray);
                pool.Return(rowArray);
            }

            foreach (var i in qList)
            {
                weights[off + i] = 0;
            }
        });
    }
}
