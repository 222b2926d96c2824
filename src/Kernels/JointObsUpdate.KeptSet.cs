using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// The joint OBS update solved on the kept coordinates, from the gradient rows instead of F⁻¹. Minimising ½δwᵀFδw with
/// δw_Q = −w_Q gives δw_K = F_KK⁻¹F_KQ·w_Q, the same step as −[F⁻¹]_{K,Q}([F⁻¹]_QQ)⁻¹w_Q, and with
/// F = λI + (1/N)GᵀG (G the block's m rows) it is δw_K = (NλI + G_KᵀG_K)⁻¹·G_Kᵀ(G_Q·w_Q): a k × k system for k = c − q
/// kept coordinates instead of a q × q one. At high sparsity (q near c) that is several times fewer flops, and no
/// column of F⁻¹ is gathered.
/// </summary>
public static partial class JointObsUpdate
{
    /// <summary>
    /// True when the kept-set form costs fewer multiply-adds for a block of <paramref name="c"/> coordinates, <paramref name="q"/>
    /// of them removed, from <paramref name="rows"/> gradient rows: about 3mc + mk²/2 + k³/6 (multiplying the rows out,
    /// G_Q·w_Q, G_Kᵀt, the SYRK and the Cholesky) against q³/6 + 2cq (the Cholesky of [F⁻¹]_QQ, the gather and the step).
    /// </summary>
    internal static bool PrefersKeptSet(int c, int q, int rows)
    {
        if (q == 0)
        {
            return false;
        }

        double k = c - q, m = rows;
        return (3 * m * c) + (m * k * k / 2) + (k * k * k / 6) < ((double)q * q * q / 6) + (2.0 * c * q);
    }

    /// <summary>
    /// Applies the update in every block where <see cref="PrefersKeptSet"/> holds, from <paramref name="rows"/> (the rows F
    /// was formed from, F = λI + (1/N)Σ gₙgₙᵀ with λ = <paramref name="damping"/>, N = <paramref name="normalizer"/>).
    /// Returns the mask left for the form on F⁻¹ (those blocks marked kept, so that it leaves them alone), or null when no
    /// block was done here.
    /// </summary>
    internal static bool[]? ApplyKeptSet(BlockLayout layout, Span<double> weights, ReadOnlySpan<bool> mask, IGradientRowFactors rows, double damping, double normalizer)
    {
        var chosen = new List<int>();
        for (var b = 0; b < layout.Count; b++)
        {
            var removed = mask.Slice((int)layout.Offset(b), layout.Size(b)).Count(false);
            if (PrefersKeptSet(layout.Size(b), removed, rows.Rows))
            {
                chosen.Add(b);
            }
        }

        if (chosen.Count == 0)
        {
            return null;
        }

        var rest = mask.ToArray();
        var w = weights.ToArray();
        var diagonal = normalizer * damping;
        BlockParallel.For(chosen.Count, i =>
        {
            var b = chosen[i];
            var off = (int)layout.Offset(b);
            StepOnKeptSet(rows, off, rest.AsSpan(off, layout.Size(b)), w.AsSpan(off, layout.Size(b)), diagonal, b);
        });

        foreach (var b in chosen)
        {
            var off = (int)layout.Offset(b);
            var c = layout.Size(b);
            w.AsSpan(off, c).CopyTo(weights.Slice(off, c));
            rest.AsSpan(off, c).Fill(true);
        }

        return rest;
    }

    /// <summary>
    /// One block: <paramref name="w"/> (c) becomes w + δw on the kept coordinates (<paramref name="kept"/> true) and exactly
    /// zero on the others. The rows are multiplied out a SYRK panel at a time; rows of ±0 are left out as in the block's
    /// Gram. t = G_Q·w_Q and G_Kᵀt are summed in float64; G_KᵀG_K by the mixed-precision SYRK the Gram uses.
    /// </summary>
    private static void StepOnKeptSet(IGradientRowFactors rows, long offset, ReadOnlySpan<bool> kept, Span<double> w, double diagonal, int block)
    {
        var c = w.Length;
        var keep = new int[kept.Count(true)];
        var k = 0;
        for (var j = 0; j < c; j++)
        {
            if (kept[j])
            {
                keep[k++] = j;
            }
        }

        if (k == 0)
        {
            w.Clear();
            return;
        }

        var m = rows.Rows;
        var panel = Math.Min(m, LinearAlgebra.MixedPanel);
        using var scratch = new Rental<float>(panel * c);
        using var keptRows = new Rental<float>(panel * k);
        using var rowRental = new Rental<double>(c);
        using var removedRental = new Rental<double>(c);
        using var sumRental = new Rental<double>(c);
        using var gramRental = new Rental<double>(k * k);
        var row = rowRental.Array.AsSpan(0, c);
        var wq = removedRental.Array.AsSpan(0, c);
        var sum = sumRental.Array.AsSpan(0, c);
        var a = gramRental.Array.AsSpan(0, k * k);
        for (var j = 0; j < c; j++)
        {
            wq[j] = kept[j] ? 0 : w[j];
        }

        sum.Clear();
        a.Clear();
        for (var r0 = 0; r0 < m; r0 += panel)
        {
            var count = Math.Min(panel, m - r0);
            var panelRows = scratch.Array.AsSpan(0, count * c);
            var nonZero = rows.GatherNonZero(r0, count, offset, c, panelRows);
            var gk = keptRows.Array.AsSpan(0, nonZero * k);
            for (var n = 0; n < nonZero; n++)
            {
                var g = panelRows.Slice(n * c, c);
                SimdOps.Convert<float, double>(g, row);
                SimdOps.Axpy(SimdOps.Dot<double>(row, wq), row, sum);
                var dst = gk.Slice(n * k, k);
                for (var i = 0; i < k; i++)
                {
                    dst[i] = g[keep[i]];
                }
            }

            if (nonZero > 0)
            {
                LinearAlgebra.SymmetricRankKMixed(true, k, nonZero, gk, k, a, k, parallel: false);
            }
        }

        var step = new double[k];
        for (var i = 0; i < k; i++)
        {
            a[(i * k) + i] += diagonal;
            step[i] = sum[keep[i]];
        }

        Solve(a, k, step, block, UnitRoundoff(Precision.Float32), "matrix NλI + G_KᵀG_K of the kept coordinates");
        for (var j = 0; j < c; j++)
        {
            if (!kept[j])
            {
                w[j] = 0;
            }
        }

        for (var i = 0; i < k; i++)
        {
            w[keep[i]] += step[i];
        }
    }
}
