using WoodFisher.Kernels;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The float32 Dense strategy's Woodbury form for blocks that few rows reach (<see cref="DenseStrategy.FewRowsMax"/>):
/// against the float64 oracle within the bound below, chosen exactly when the rows that count are few, and failing as the
/// Cholesky inverse fails.
/// </summary>
[TestFixture]
public class DenseFewRowsTests
{
    private static readonly double U32 = Math.ScaleB(1.0, -24);

    private static double Gamma(int k) => k * U32 / (1 - (k * U32));

    private static (IBlockStorage Storage, DenseStrategy Dense) Finish(double[] g, int m, int d, int c, double lambda, CpuBackend backend)
    {
        var dense = new DenseStrategy(BlockLayout.Create(d, c), Precision.Float32, m);
        Assert.That(dense.KeepsRows, Is.True);
        dense.Accumulate<double>(g, m);
        return (dense.Finish(backend, lambda, m), dense);
    }

    // F⁻¹ = (I − WᵀW)/λ with WᵀW = XᵀK⁻¹X, K = NλI + XXᵀ. K's float32-product Gram is off by ‖δK‖₂ ≤ γ_KC·tr(XXᵀ), which
    // moves XᵀK⁻¹X by at most ‖δK‖₂/λ_min(K) = γ_KC·tr(GᵀG/N)/λ (‖K^{-1/2}X‖₂ ≤ 1); W rounded to float32 and its float32
    // products over r rows move each entry of WᵀW by at most γ_r + 2u₃₂ (its columns have norm below 1), so by c·(γ_r + 2u₃₂)
    // in 2-norm. With the final rounding of each entry: max |F̃⁻¹ − F⁻¹| ≤ (γ_KC·tr(GᵀG/N)/λ + c·(γ_r + 2u₃₂))/λ +
    // u₃₂·max |F⁻¹|. Random (κ ≈ 10²–10³) and ill-conditioned rows (κ up to 10⁶ at λ = 1e-4); r ≤ c/4 in every block.
    [TestCase(false, 1e-2)]
    [TestCase(true, 1e-4)]
    public void FewRows_AreWithinTheStatedBound(bool illConditioned, double lambda)
    {
        const int d = 192, m = 16, c = 64;
        var raw = illConditioned ? Oracle.IllConditionedGradients(5, m, d) : Oracle.RandomGradients(5, m, d);
        var g = Array.ConvertAll(raw, v => (double)(float)v);
        using var backend = new CpuBackend();
        var (storage, dense) = Finish(g, m, d, c, lambda, backend);
        using var _ = storage;
        Assert.That(dense.FewRowsInverses, Is.EqualTo(3), "every block (16 rows ≤ c/4) in the Woodbury form");
        var layout = storage.Layout;
        var oracle = Oracle.BlockInverses(g, m, d, layout, lambda, m);
        for (var b = 0; b < layout.Count; b++)
        {
            var n = layout.Size(b);
            var block = new double[n * n];
            ((CpuBlockStorage)storage).ReadBlock(b, block);
            var fisher = Oracle.Fisher(g, m, d, layout, b, lambda, m);
            var gramTrace = Enumerable.Range(0, n).Sum(i => fisher[(i * n) + i]) - (n * lambda);
            var bound = (((Gamma(LinearAlgebra.MixedPanel) * gramTrace / lambda) + (n * (Gamma(m) + (2 * U32)))) / lambda) + (U32 * oracle[b].Max(Math.Abs));
            var error = block.Zip(oracle[b], (x, y) => Math.Abs(x - y)).Max();
            TestContext.Out.WriteLine($"block {b}: error {error:E2}, bound {bound:E2}, ‖F⁻¹‖max {oracle[b].Max(Math.Abs):E2}");
            Assert.That(error, Is.LessThanOrEqualTo(bound), $"block {b}");
        }
    }

    // The form is taken exactly where the rows that count are at most FewRowsMax(c) = c/4: blocks reached by 16 and by 17
    // of 40 rows (the others ±0 there), and a block none reaches (F = λI, F⁻¹ = I/λ within float32 rounding).
    [Test]
    public void FewRows_AreChosenByTheRowsThatCount()
    {
        const int m = 40, c = 64, d = 3 * c;
        var g = Array.ConvertAll(Oracle.RandomGradients(8, m, d), v => (double)(float)v);
        for (var r = 0; r < m; r++)
        {
            for (var j = 0; j < c; j++)
            {
                if (r >= 16)
                {
                    g[(r * d) + j] = r % 2 == 0 ? 0.0 : -0.0;
                }

                if (r >= 17)
                {
                    g[(r * d) + c + j] = 0;
                }

                g[(r * d) + (2 * c) + j] = 0;
            }
        }

        using var backend = new CpuBackend();
        var (storage, dense) = Finish(g, m, d, c, 1e-2, backend);
        using var _ = storage;
        Assert.That(dense.FewRowsInverses, Is.EqualTo(2), "blocks 0 (16 rows) and 2 (none), not block 1 (17 rows)");
        // As StrategyTests' float32 tolerance: the κ·u₃₂ class of these κ ≈ 10² blocks.
        Assert.That(MaxBlockError(storage, Oracle.BlockInverses(g, m, d, storage.Layout, 1e-2, m)), Is.LessThan(2e-4));
        var empty = new double[c * c];
        ((CpuBlockStorage)storage).ReadBlock(2, empty);
        Assert.That(empty[0], Is.EqualTo(100).Within(1e-4), "a block of zero rows inverts λI");
        Assert.That(empty[1], Is.Zero);
    }

    // Finite rows whose products overflow float32: K's Cholesky fails, so the block goes to the Gram and the Cholesky inverse,
    // which refuse it as they refuse any such block.
    [Test]
    public void FewRows_ThatOverflow_FailAsTheCholeskyInverseFails()
    {
        const int m = 4, c = 16, d = c;
        var g = new double[m * d];
        Array.Fill(g, 1e30);
        using var backend = new CpuBackend();
        var dense = new DenseStrategy(BlockLayout.Create(d, c), Precision.Float32, m);
        dense.Accumulate<double>(g, m);
        Assert.Throws<BlockNotPositiveDefiniteException>(() => dense.Finish(backend, 1e-2, m).Dispose());
    }

    private static double MaxBlockError(IBlockStorage storage, double[][] oracle)
    {
        var e = 0.0;
        for (var b = 0; b < oracle.Length; b++)
        {
            var block = new double[oracle[b].Length];
            ((CpuBlockStorage)storage).ReadBlock(b, block);
            e = Math.Max(e, Oracle.RelativeError(block, oracle[b]));
        }

        return e;
    }
}
