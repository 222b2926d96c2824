using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>The rank-k Woodbury update against the dense float64 oracle: symmetry, the fresh-block shortcut, later calls.</summary>
[TestFixture]
public class RankKUpdateTests
{
    [TestCase(Precision.Float32)]
    [TestCase(Precision.Float64)]
    public void RankKUpdate_KeepsBlocksBitwiseSymmetric(Precision precision)
    {
        const int m = 70;
        var g = Oracle.RandomGradients(18, m, 150);
        var options = new WoodFisherOptions { BlockSize = 64, Damping = 1e-2, Strategy = WoodburyStrategy.RankK, Precision = precision, Backend = BackendKind.Cpu };
        using var inv = WoodFisherBuilder.Compute(g, m, 150, options);
        AssertBitwiseSymmetric(inv);
    }

    // Blocks of c ≥ 256 take the lower-triangle update with one mirror per block; c = 300 (not a multiple of the 8 × 8
    // mirror tile) and m = 200 (three panels of 67, 67 and 66 rows: not multiples of the 6-row micro-tile) cover its
    // edges. Tolerances as in StrategyTests.Inverse_EqualsDenseOracle (float32 2e-4, float64 1e-9 of max |F̂⁻¹|).
    [TestCase(Precision.Float32, 2e-4)]
    [TestCase(Precision.Float64, 1e-9)]
    public void RankKUpdate_LargeBlocks_EqualDenseOracle_AndStayBitwiseSymmetric(Precision precision, double tol)
    {
        using var inv = RankKAgainstOracle(19, d: 560, c: 300, m: 200, precision, tol);
        AssertBitwiseSymmetric(inv);
    }

    // Every SIMD path this machine offers (AVX-512, AVX2, scalar) through the lower-triangle update and the symmetric view of
    // F, with the edges of the test above. Tolerances as there.
    [TestCase(Precision.Float32, 2e-4)]
    [TestCase(Precision.Float64, 1e-9)]
    public void RankKUpdate_EveryPath_EqualsDenseOracle_AndStaysBitwiseSymmetric(Precision precision, double tol)
    {
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            using var inv = RankKAgainstOracle(26, d: 560, c: 300, m: 200, precision, tol);
            AssertBitwiseSymmetric(inv);
        }
    }

    // A fresh block (σI) skips the first panel's U = Gₖ·σI product and uses σGₖ directly; the product of a row with
    // σI has one nonzero term, so both routes must agree bit for bit. The reference block is the same σI written
    // through Write, which forgets that it is a scaled identity and so takes the general product. The 30 rows fit one
    // panel of the general route in every block (at least 32 rows), so both routes cut the same panels (a fresh block
    // otherwise takes a larger first panel, which only changes rounding: see the next test).
    [TestCase(Precision.Float32, 64, 30)]
    [TestCase(Precision.Float32, 300, 30)]
    [TestCase(Precision.Float64, 300, 30)]
    public void RankKUpdate_FreshBlockShortcut_IsBitwiseTheGeneralProduct(Precision precision, int c, int m)
    {
        var d = c + (c / 3);
        var g = Oracle.RandomGradients(23, m, d);
        using var backend = new CpuBackend();
        var (fresh, written) = Oracle.FreshAndWrittenRankK(backend, BlockLayout.Create(d, c), precision, 1e2, g, m);
        Assert.That(fresh, Is.EqualTo(written));
    }

    // A fresh block takes up to min(c/2, 256) rows in its first panel (here 256 of 400 at c = 600, then two panels of
    // 72); the result must still be the float64 oracle's. Tolerances as in StrategyTests.Inverse_EqualsDenseOracle.
    [TestCase(Precision.Float32, 2e-4)]
    [TestCase(Precision.Float64, 1e-9)]
    public void RankKUpdate_FreshBlockLargeFirstPanel_EqualsOracle(Precision precision, double tol)
    {
        using var inv = RankKAgainstOracle(25, d: 700, c: 600, m: 400, precision, tol);
    }

    // Once a block has been updated it is no longer σI: a second update (and an update after Write) must take the
    // general product. Streaming two halves must equal the float64 oracle of all rows (tolerance as above).
    [TestCase(Precision.Float32, 2e-4)]
    [TestCase(Precision.Float64, 1e-9)]
    public void RankKUpdate_SecondCallOnAnUpdatedBlock_EqualsOracle(Precision precision, double tol)
    {
        const int d = 560, c = 300, m = 200;
        var g = Oracle.RandomGradients(24, m, d);
        var layout = BlockLayout.Create(d, c);
        using var backend = new CpuBackend();
        using var s = backend.Allocate(layout, precision);
        backend.SetScaledIdentity(s, 1e2);
        var half = (m / 2) * d;
        backend.RankKUpdate(s, g.AsSpan(0, half), m / 2, m);
        backend.RankKUpdate(s, g.AsSpan(half), m - (m / 2), m);
        var oracle = Oracle.BlockInverses(g, m, d, layout, 1e-2, m);
        var worst = 0.0;
        for (var blk = 0; blk < layout.Count; blk++)
        {
            var n = layout.Size(blk);
            var got = new double[n * n];
            backend.ReadBlock(s, blk, got);
            worst = Math.Max(worst, Oracle.RelativeError(got, oracle[blk]));
        }

        Assert.That(worst, Is.LessThan(tol));
    }

    /// <summary>The rank-k inverse (λ = 1e-2) of m seeded random gradients of length d in blocks of c, checked against the float64 oracle.</summary>
    private static WoodFisherInverse RankKAgainstOracle(int seed, int d, int c, int m, Precision precision, double tol)
    {
        var g = Oracle.RandomGradients(seed, m, d);
        var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-2, Strategy = WoodburyStrategy.RankK, Precision = precision, Backend = BackendKind.Cpu };
        var inv = WoodFisherBuilder.Compute(g, m, d, options);
        try
        {
            Assert.That(Oracle.MaxBlockError(inv, Oracle.BlockInverses(g, m, d, inv.Layout, 1e-2, m)), Is.LessThan(tol));
            return inv;
        }
        catch
        {
            inv.Dispose();
            throw;
        }
    }

    private static void AssertBitwiseSymmetric(WoodFisherInverse inv)
    {
        for (var b = 0; b < inv.Layout.Count; b++)
        {
            var n = inv.Layout.Size(b);
            var blk = inv.Block(b);
            for (var i = 0; i < n; i++)
            {
                for (var j = 0; j < i; j++)
                {
                    Assert.That(blk[(i * n) + j], Is.EqualTo(blk[(j * n) + i]), $"block {b} ({i},{j})");
                }
            }
        }
    }
}
