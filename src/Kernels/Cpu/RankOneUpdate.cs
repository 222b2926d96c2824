using System.Numerics;
using System.Runtime.CompilerServices;

namespace WoodFisher.Kernels.Cpu;

/// <summary>
/// The paper's sequential Sherman–Morrison updates on the CPU, per block and gradient g (restricted to the block):
/// u = F⁻¹g, F⁻¹ ← F⁻¹ − uuᵀ / (N + gᵀu). Each row pass of the update is fused with the next gradient's mat-vec, so
/// F⁻¹ is read once per gradient (4c² flops, memory-bound).
/// </summary>
internal static class RankOneUpdate<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public static void Apply<TSrc>(CpuBlockStorage<T> s, PinnedRows<TSrc> g, int rows, double normalizer)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        s.ForgetIdentity();
        if (rows == 0)
        {
            return;
        }

        // One huge block: split each update's rows across cores (a barrier per gradient pays off from c ≈ 512).
        var inner = s.Layout.Count < Environment.ProcessorCount && s.Layout.BlockSize >= 512;
        BlockParallel.For(s.Layout.Count, b => Block(s, b, g, rows, normalizer, inner));
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
    private static void Block<TSrc>(CpuBlockStorage<T> s, int b, PinnedRows<TSrc> g, int rows, double normalizer, bool parallel)
        where TSrc : unmanaged, IFloatingPointIeee754<TSrc>
    {
        var f = s.Blocks[b];
        var c = s.Layout.Size(b);
        var gCur = new T[c];
        var gNext = new T[c];
        var u = new T[c];
        var uNext = new T[c];
        BlockOps<T>.LoadRow(g.Span, s.Layout, b, 0, gCur);
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
            if (r < rows - 1)
            {
                BlockOps<T>.LoadRow(g.Span, s.Layout, b, r + 1, gNext);
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

        LinearAlgebra.Symmetrize<T>(f.AsSpan(0, c * c), c);
        BlockOps<T>.RequirePositiveDiagonal(f, c, b, "the rank-one updates");
    }
}
