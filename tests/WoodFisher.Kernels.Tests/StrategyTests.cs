using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

[TestFixture]
public class StrategyTests
{
    private const int D = 150;
    private const int C = 64;
    private const int M = 100;

    private static IEnumerable<TestCaseData> Cases()
    {
        foreach (var s in new[] { WoodburyStrategy.Rank1, WoodburyStrategy.RankK, WoodburyStrategy.Dense, WoodburyStrategy.Auto })
        {
            foreach (var p in new[] { Precision.Float32, Precision.Float64 })
            {
                foreach (var ill in new[] { false, true })
                {
                    yield return new TestCaseData(s, p, ill).SetName($"Inverse_EqualsDenseOracle_{s}_{p}_{(ill ? "IllConditioned" : "Random")}");
                }
            }
        }
    }

    // Tolerances, relative to max |F̂⁻¹|: float64 loses about log10(κ) of its ~16 digits (κ ≤ 1e6 here), so 1e-9.
    // float32 keeps ~7 digits; every float32 strategy loses about log10(κ) of them (Woodbury updates in float32; Dense
    // forms its Gram from float32 products, whose error κ amplifies the same way before its float64 Cholesky):
    // κ ≈ 1e2 (random, λ = 1e-2) → 2e-4, κ ≈ 1e6 (ill-conditioned, λ = 1e-4) → 2e-2.
    [TestCaseSource(nameof(Cases))]
    public void Inverse_EqualsDenseOracle(WoodburyStrategy strategy, Precision precision, bool illConditioned)
    {
        var lambda = illConditioned ? 1e-4 : 1e-2;
        var g = illConditioned ? Oracle.IllConditionedGradients(3, M, D) : Oracle.RandomGradients(3, M, D);
        var options = new WoodFisherOptions { BlockSize = C, Damping = lambda, Strategy = strategy, Precision = precision, Backend = BackendKind.Cpu };
        using var inv = WoodFisherBuilder.Compute(g, M, D, options);
        var oracle = Oracle.BlockInverses(g, M, D, inv.Layout, lambda, M);

        var tol = precision == Precision.Float64 ? 1e-9 : illConditioned ? 2e-2 : 2e-4;
        Assert.Multiple(() =>
        {
            Assert.That(inv.Layout.Count, Is.EqualTo(3));
            Assert.That(inv.Layout.Size(2), Is.EqualTo(D - (2 * C)));
            Assert.That(inv.Normalizer, Is.EqualTo(M));
            Assert.That(inv.SampleCount, Is.EqualTo(M));
            Assert.That(Oracle.MaxBlockError(inv, oracle), Is.LessThan(tol));
        });
    }

    [Test]
    public void RankOneUpdates_MatchHandComputed2x2()
    {
        // λ = 1, N = 1: F₀⁻¹ = I; g₁ = (1, 2): u = (1, 2), denominator 1 + 5 = 6 → F₁⁻¹ = [[5/6, −1/3], [−1/3, 1/3]];
        // g₂ = (0, 1): u = (−1/3, 1/3), denominator 1 + 1/3 → F₂⁻¹ = [[3/4, −1/4], [−1/4, 1/4]] = (I + g₁g₁ᵀ + g₂g₂ᵀ)⁻¹.
        var options = new WoodFisherOptions { BlockSize = 2, Damping = 1, Normalizer = 1, Strategy = WoodburyStrategy.Rank1, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var b1 = new WoodFisherBuilder(2, options);
        b1.Add(new double[] { 1, 2 }, 1);
        using var one = b1.Build();
        Assert.That(one.Block(0), Is.EqualTo(new[] { 5.0 / 6, -1.0 / 3, -1.0 / 3, 1.0 / 3 }).Within(1e-15));

        using var b2 = new WoodFisherBuilder(2, options);
        b2.Add(new double[] { 1, 2 }, 1);
        b2.Add(new double[] { 0, 1 }, 1);
        using var two = b2.Build();
        Assert.That(two.Block(0), Is.EqualTo(new[] { 0.75, -0.25, -0.25, 0.25 }).Within(1e-15));
    }

    [TestCase(WoodburyStrategy.Rank1)]
    [TestCase(WoodburyStrategy.RankK)]
    [TestCase(WoodburyStrategy.Dense)]
    public void StreamingInChunks_EqualsAllAtOnce(WoodburyStrategy strategy)
    {
        const int m = 90;
        var g = Oracle.RandomGradients(11, m, D);
        var options = new WoodFisherOptions { BlockSize = C, Damping = 1e-2, Strategy = strategy, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var all = WoodFisherBuilder.Compute(g, m, D, options);
        using var builder = new WoodFisherBuilder(D, options, m);
        var r = 0;
        foreach (var n in new[] { 7, 13, 1, 40, 29 })
        {
            builder.Add(g.AsSpan(r * D, n * D), n);
            r += n;
        }

        using var chunked = builder.Build();
        for (var b = 0; b < all.Layout.Count; b++)
        {
            Assert.That(Oracle.RelativeError(chunked.Block(b), all.Block(b)), Is.LessThan(1e-11), $"block {b}");
        }
    }

    [Test]
    public void StreamingFloat32Chunks_AcrossPanelBoundaries_EqualsFloat64AllAtOnce()
    {
        // d = 2¹⁷ makes the builder gather panels of 2²²/d = 32 rows, so these chunks end mid-panel and fill panels
        // from several chunks.
        const int d = 1 << 17, c = 32, m = 45;
        var g = Oracle.RandomGradients(12, m, d);
        var gf = Array.ConvertAll(g, x => (float)x);
        var exact = Array.ConvertAll(gf, x => (double)x);
        var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-2, Strategy = WoodburyStrategy.RankK, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var all = WoodFisherBuilder.Compute(exact, m, d, options);
        using var builder = new WoodFisherBuilder(d, options, m);
        var r = 0;
        foreach (var n in new[] { 7, 13, 1, 20, 4 })
        {
            builder.Add(gf.AsSpan(r * d, n * d), n);
            r += n;
        }

        using var chunked = builder.Build();
        foreach (var b in new[] { 0, 1, 2047, all.Layout.Count - 1 })
        {
            Assert.That(Oracle.RelativeError(chunked.Block(b), all.Block(b)), Is.LessThan(1e-11), $"block {b}");
        }
    }

    [TestCase(WoodburyStrategy.Rank1)]
    [TestCase(WoodburyStrategy.RankK)]
    public void UnknownRowCount_BuffersAndUsesRowsThatEntered(WoodburyStrategy strategy)
    {
        const int m = 40;
        var g = Oracle.RandomGradients(12, m, D);
        var options = new WoodFisherOptions { BlockSize = C, Damping = 1e-2, Strategy = strategy, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var builder = new WoodFisherBuilder(D, options);
        builder.Add(g.AsSpan(0, 15 * D), 15);
        builder.Add(g.AsSpan(15 * D), m - 15);
        using var inv = builder.Build();
        Assert.That(inv.Normalizer, Is.EqualTo(m));
        Assert.That(Oracle.MaxBlockError(inv, Oracle.BlockInverses(g, m, D, inv.Layout, 1e-2, m)), Is.LessThan(1e-9));
    }

    [Test]
    public void MiniBatch_AveragesRowsBeforeTheyEnter()
    {
        const int raw = 10;
        const int b = 4;
        var g = Oracle.RandomGradients(13, raw, D);
        var averaged = new double[3 * D];
        int[] groups = [4, 4, 2];
        var r = 0;
        for (var k = 0; k < groups.Length; k++)
        {
            for (var i = 0; i < groups[k]; i++, r++)
            {
                for (var j = 0; j < D; j++)
                {
                    averaged[(k * D) + j] += g[(r * D) + j] / groups[k];
                }
            }
        }

        foreach (var s in new[] { WoodburyStrategy.RankK, WoodburyStrategy.Dense })
        {
            var options = new WoodFisherOptions { BlockSize = C, Damping = 1e-2, MiniBatch = b, Strategy = s, Precision = Precision.Float64, Backend = BackendKind.Cpu };
            using var inv = WoodFisherBuilder.Compute(g, raw, D, options);
            Assert.That(inv.SampleCount, Is.EqualTo(3));
            Assert.That(Oracle.MaxBlockError(inv, Oracle.BlockInverses(averaged, 3, D, inv.Layout, 1e-2, 3)), Is.LessThan(1e-9), s.ToString());
        }
    }

    [Test]
    public void Segments_BlocksNeverStraddleAndLastBlockIsShorter()
    {
        var layout = BlockLayout.Create(10, 4, [6, 4]);
        Assert.Multiple(() =>
        {
            Assert.That(Enumerable.Range(0, layout.Count).Select(layout.Offset), Is.EqualTo(new[] { 0, 4, 6 }));
            Assert.That(Enumerable.Range(0, layout.Count).Select(layout.Size), Is.EqualTo(new[] { 4, 2, 4 }));
            Assert.That(layout.SquareLength, Is.EqualTo(16 + 4 + 16));
        });

        const int m = 20;
        var g = Oracle.RandomGradients(14, m, 10);
        var options = new WoodFisherOptions { BlockSize = 4, Segments = [6, 4], Damping = 1e-1, Strategy = WoodburyStrategy.RankK, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var inv = WoodFisherBuilder.Compute(g, m, 10, options);
        Assert.That(Oracle.MaxBlockError(inv, Oracle.BlockInverses(g, m, 10, layout, 1e-1, m)), Is.LessThan(1e-12));
    }

    [Test]
    public void ExplicitNormalizer_IsUsed()
    {
        const int m = 30;
        var g = Oracle.RandomGradients(15, m, D);
        var options = new WoodFisherOptions { BlockSize = C, Damping = 1e-2, Normalizer = 7.5, Strategy = WoodburyStrategy.RankK, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var inv = WoodFisherBuilder.Compute(g, m, D, options);
        Assert.That(Oracle.MaxBlockError(inv, Oracle.BlockInverses(g, m, D, inv.Layout, 1e-2, 7.5)), Is.LessThan(1e-9));
    }

    [Test]
    public void SingleLargeBlock_ParallelInsideTheBlock_EqualsOracle()
    {
        const int d = 520;
        const int m = 150;
        var g = Oracle.RandomGradients(16, m, d);
        // With one block and several cores the block itself is split: GEMMs by rows or columns, and the rank-k forward
        // substitution by column slabs (two slabs of c = 520 in float32 and float64). Tolerances as in the oracle test.
        foreach (var p in new[] { Precision.Float64, Precision.Float32 })
        {
            foreach (var s in new[] { WoodburyStrategy.Rank1, WoodburyStrategy.RankK, WoodburyStrategy.Dense })
            {
                var options = new WoodFisherOptions { BlockSize = d, Damping = 1e-2, Strategy = s, Precision = p, Backend = BackendKind.Cpu };
                using var inv = WoodFisherBuilder.Compute(g, m, d, options);
                var tol = p == Precision.Float64 ? 1e-9 : 2e-4;
                Assert.That(Oracle.MaxBlockError(inv, Oracle.BlockInverses(g, m, d, inv.Layout, 1e-2, m)), Is.LessThan(tol), $"{s} {p}");
            }
        }
    }

    [Test]
    public void FloatInput_EqualsDoubleInput()
    {
        const int m = 25;
        var g = Oracle.RandomGradients(17, m, D).Select(x => (double)(float)x).ToArray();
        var gf = g.Select(x => (float)x).ToArray();
        var options = new WoodFisherOptions { BlockSize = C, Damping = 1e-2, Strategy = WoodburyStrategy.RankK, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var a = WoodFisherBuilder.Compute(g, m, D, options);
        using var b = WoodFisherBuilder.Compute(gf, m, D, options);
        Assert.That(b.Block(1), Is.EqualTo(a.Block(1)));
    }

    [Test]
    public void Auto_PicksRankKForFewRowsAndDenseForMany()
    {
        Assert.Multiple(() =>
        {
            Assert.That(WoodFisherBuilder.ChooseStrategy(512, 16), Is.EqualTo(WoodburyStrategy.RankK));
            Assert.That(WoodFisherBuilder.ChooseStrategy(128, 100_000), Is.EqualTo(WoodburyStrategy.Dense));
        });
    }

    // With N known, whole pending panels (256 rows at this d) of the Woodbury strategies go to the backend straight from
    // the caller's span, float32 rows unwidened; rows that do not fill a panel still collect in the pending buffer. The
    // chunks below mix both: 520 rows (512 direct, 8 pending), 300 (248 fill the panel, 52 pending), 10 (pending). The
    // oracle sees the values the builder saw (float32 inputs widened exactly). Tolerances as in the oracle test.
    [TestCase(WoodburyStrategy.RankK, Precision.Float32, false, BackendKind.Cpu)]
    [TestCase(WoodburyStrategy.Rank1, Precision.Float32, false, BackendKind.Cpu)]
    [TestCase(WoodburyStrategy.RankK, Precision.Float64, true, BackendKind.Cpu)]
    [TestCase(WoodburyStrategy.Rank1, Precision.Float64, false, BackendKind.Cpu)]
    [TestCase(WoodburyStrategy.RankK, Precision.Float32, false, BackendKind.Ilgpu)]
    [TestCase(WoodburyStrategy.RankK, Precision.Float64, true, BackendKind.Ilgpu)]
    [TestCase(WoodburyStrategy.RankK, Precision.Float64, false, BackendKind.Ilgpu)]
    public void WholePanels_SkipThePendingCopy_MixedWithPendingRows_EqualOracle(WoodburyStrategy strategy, Precision precision, bool doubleInput, BackendKind backend)
    {
        const int m = 830;
        var g = Oracle.RandomGradients(31, m, D);
        var gf = Array.ConvertAll(g, v => (float)v);
        var seen = doubleInput ? g : Array.ConvertAll(gf, v => (double)v);
        var options = new WoodFisherOptions { BlockSize = C, Damping = 1e-2, Strategy = strategy, Precision = precision, Backend = backend };
        using var builder = new WoodFisherBuilder(D, options, m);
        var r0 = 0;
        foreach (var n in new[] { 520, 300, 10 })
        {
            if (doubleInput)
            {
                builder.Add(g.AsSpan(r0 * D, n * D), n);
            }
            else
            {
                builder.Add(gf.AsSpan(r0 * D, n * D), n);
            }

            r0 += n;
        }

        using var inv = builder.Build();
        Assert.That(inv.SampleCount, Is.EqualTo(m));
        var tol = precision == Precision.Float64 ? 1e-9 : 2e-4;
        Assert.That(Oracle.MaxBlockError(inv, Oracle.BlockInverses(seen, m, D, inv.Layout, 1e-2, m)), Is.LessThan(tol));
    }

    // Chunks of whole panels, then a last chunk of any size, never touch the builder's float64 panel buffer: it is not
    // even allocated; the float32 Dense strategy reads them in place too. The float64 Dense strategy, mini-batch averaging
    // and the Woodbury strategies without a row count (N unknown) do gather rows there.
    [TestCase(WoodburyStrategy.RankK)]
    [TestCase(WoodburyStrategy.Dense)]
    public void PanelChunksAndTheLastChunk_StreamWithoutAllocatingThePanelBuffer(WoodburyStrategy strategy)
    {
        const int m = 830;
        var g = Oracle.RandomGradients(32, m, D);
        var gf = Array.ConvertAll(g, v => (float)v);
        var options = new WoodFisherOptions { BlockSize = C, Damping = 1e-2, Strategy = strategy, Backend = BackendKind.Cpu };
        using var builder = new WoodFisherBuilder(D, options, m);
        Assert.That(builder.StreamsWithoutCopy, Is.True);
        var panel = builder.PanelRows;
        var r0 = 0;
        while (r0 < m)
        {
            var n = Math.Min(panel, m - r0);
            builder.Add(gf.AsSpan(r0 * D, n * D), n);
            r0 += n;
        }

        Assert.That(builder.PanelBufferAllocated, Is.False);
        using var inv = builder.Build();
        Assert.That(Oracle.MaxBlockError(inv, Oracle.BlockInverses(Array.ConvertAll(gf, v => (double)v), m, D, inv.Layout, 1e-2, m)), Is.LessThan(2e-4));

        using var dense = new WoodFisherBuilder(D, options with { Strategy = WoodburyStrategy.Dense, Precision = Precision.Float64 }, m);
        using var averaged = new WoodFisherBuilder(D, options with { MiniBatch = 2 }, m);
        using var unknown = new WoodFisherBuilder(D, options with { Strategy = WoodburyStrategy.RankK });
        Assert.Multiple(() =>
        {
            Assert.That(dense.StreamsWithoutCopy, Is.False);
            Assert.That(averaged.StreamsWithoutCopy, Is.False);
            Assert.That(unknown.StreamsWithoutCopy, Is.False);
        });
    }

    [Test]
    public void Auto_ResolvesFromTheExpectedRowCount()
    {
        var options = new WoodFisherOptions { BlockSize = 16, Damping = 1e-2, Strategy = WoodburyStrategy.Auto, Backend = BackendKind.Cpu };
        using var few = new WoodFisherBuilder(32, options, expectedRows: 4);
        using var many = new WoodFisherBuilder(32, options, expectedRows: 10_000);
        using var unknown = new WoodFisherBuilder(32, options);
        Assert.Multiple(() =>
        {
            Assert.That(few.Strategy, Is.EqualTo(WoodburyStrategy.RankK));
            Assert.That(many.Strategy, Is.EqualTo(WoodburyStrategy.Dense));
            Assert.That(unknown.Strategy, Is.EqualTo(WoodburyStrategy.Dense), "m unknown: Dense streams without N");
        });
    }
}
