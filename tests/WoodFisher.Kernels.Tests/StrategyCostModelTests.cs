using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>The cost model behind Auto: its flop counts in closed form, its choice, and its memory rule.</summary>
[TestFixture]
[NonParallelizable]
public class StrategyCostModelTests
{
    private static readonly int[] Sizes = [64, 1024];

    private static StrategyCostModel Flat(double rank1, double rankK, double gram, double inverse) =>
        new(Sizes, [rank1, rank1], [rankK, rankK], [gram, gram], [gram, gram], [inverse, inverse]);

    [Test]
    public void Flops_AreTheStatedCounts()
    {
        Assert.Multiple(() =>
        {
            Assert.That(StrategyCostModel.Flops(WoodburyStrategy.Rank1, 100, 7), Is.EqualTo((4.0 * 100 * 100 * 7, 0.0)));
            Assert.That(StrategyCostModel.Flops(WoodburyStrategy.Dense, 100, 7), Is.EqualTo((100.0 * 100 * 7, 1e6)));

            // A fresh block's first panel takes up to c/2 rows: 30 rows of c = 100 are one panel, c²k + 2ck² + k³/3.
            Assert.That(StrategyCostModel.Flops(WoodburyStrategy.RankK, 100, 30).Updates, Is.EqualTo((1e4 * 30) + (200.0 * 900) + (27000.0 / 3)).Within(1e-6));

            // Beyond the first panel every row costs 3c² + 2ck + k²/3, k = 96 at c = 512.
            var perRow = (StrategyCostModel.Flops(WoodburyStrategy.RankK, 512, 20_000).Updates - StrategyCostModel.Flops(WoodburyStrategy.RankK, 512, 10_000).Updates) / 10_000;
            Assert.That(perRow, Is.EqualTo((3.0 * 512 * 512) + (2.0 * 512 * 96) + (96.0 * 96 / 3)).Within(1e-3 * 512 * 512));
        });
    }

    // With every kernel at the same rate the choice is a flop comparison: RankK's ≈ 3c²m against Dense's c²m + c³ crosses
    // near m = c/2 (a little later, as RankK's first panel is cheap); Rank1's 4c²m never wins.
    [Test]
    public void Choose_IsTheCheapestByTheModel()
    {
        var model = Flat(0.5, 0.5, 0.5, 0.5);
        var layout = BlockLayout.Create(512, 512);
        Assert.Multiple(() =>
        {
            Assert.That(model.Choose(layout, 64, Precision.Float32), Is.EqualTo(WoodburyStrategy.RankK));
            Assert.That(model.Choose(layout, 2048, Precision.Float32), Is.EqualTo(WoodburyStrategy.Dense));
            foreach (var m in new[] { 16, 100, 256, 300, 400, 600, 1000, 5000 })
            {
                var costs = new[] { WoodburyStrategy.Rank1, WoodburyStrategy.RankK, WoodburyStrategy.Dense }.ToDictionary(s => s, s => model.Cost(s, layout, m, Precision.Float32));
                Assert.That(model.Choose(layout, m, Precision.Float32), Is.EqualTo(costs.MinBy(kv => kv.Value).Key), $"m = {m}");
            }

            // A slow Cholesky inverse moves the crossover to more rows; a slow rank-k to fewer.
            Assert.That(Flat(0.5, 0.5, 0.5, 0.01).Choose(layout, 2048, Precision.Float32), Is.EqualTo(WoodburyStrategy.RankK));
            Assert.That(Flat(0.01, 0.01, 0.5, 0.5).Choose(layout, 64, Precision.Float32), Is.EqualTo(WoodburyStrategy.Dense));
        });
    }

    [Test]
    public void Default_PicksRankKForFewRowsAndDenseForMany_WithOneCrossover()
    {
        foreach (var c in new[] { 32, 100, 128, 400, 512, 1024 })
        {
            var layout = BlockLayout.Create(c, c);
            var picks = Enumerable.Range(1, 64).Select(i => StrategyCostModel.Default.Choose(layout, i * c / 8, Precision.Float32)).ToList();
            Assert.That(picks[0], Is.EqualTo(WoodburyStrategy.RankK), $"c = {c}, m = c/8");
            Assert.That(picks[^1], Is.EqualTo(WoodburyStrategy.Dense), $"c = {c}, m = 8c");
            var firstDense = picks.IndexOf(WoodburyStrategy.Dense);
            Assert.That(picks.Skip(firstDense), Is.All.EqualTo(WoodburyStrategy.Dense), $"c = {c}: one crossover");
        }
    }

    // Dense needs Σc² float64 Gram bytes on top of the blocks: with a budget that holds RankK's blocks but not the Gram,
    // Auto takes RankK even where Dense would be cheaper, instead of refusing the build.
    [Test]
    public void Auto_PassesOverAStrategyThatDoesNotFitTheBudget()
    {
        const int d = 4096;
        var options = new WoodFisherOptions { BlockSize = 512, Damping = 1e-3, Strategy = WoodburyStrategy.Auto, Backend = BackendKind.Cpu };
        var rankK = WoodFisherBuilder.EstimateBytes(d, options with { Strategy = WoodburyStrategy.RankK }, 100_000);
        var dense = WoodFisherBuilder.EstimateBytes(d, options with { Strategy = WoodburyStrategy.Dense }, 100_000);
        Assert.That(dense, Is.GreaterThan(rankK));
        using (MemoryBudget.Override(dense))
        {
            using var roomy = new WoodFisherBuilder(d, options, 100_000);
            Assert.That(roomy.Strategy, Is.EqualTo(WoodburyStrategy.Dense));
        }

        using (MemoryBudget.Override((rankK + dense) / 2))
        {
            using var tight = new WoodFisherBuilder(d, options, 100_000);
            Assert.That(tight.Strategy, Is.EqualTo(WoodburyStrategy.RankK));
        }
    }

    [Test]
    public void Model_RejectsBadTables()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new StrategyCostModel([64, 32], [1, 1], [1, 1], [1, 1], [1, 1], [1, 1]), Throws.ArgumentException);
            Assert.That(() => new StrategyCostModel([64, 128], [1, 1], [1, 0], [1, 1], [1, 1], [1, 1]), Throws.ArgumentException);
            Assert.That(() => new StrategyCostModel([64, 128], [1], [1, 1], [1, 1], [1, 1], [1, 1]), Throws.ArgumentException);
        });
    }

    // Auto on a GPU against the H200 measurements (docs/performance.md, `woodfisher bench --backend ilgpu`): in every cell
    // the faster of rank-k and Dense there. The CPU model alone picks Dense at c = 512, m = 1,024, d = 65,536, where
    // the device's rank-k took 0.084 s and Dense 0.230; at d ≤ 2,048 the CPU model's choice was the faster.
    [TestCase(512, 1024, 65_536, WoodburyStrategy.RankK)]
    [TestCase(1000, 128, 256_000, WoodburyStrategy.RankK)]
    [TestCase(2000, 400, 256_000, WoodburyStrategy.RankK)]
    [TestCase(512, 1024, 2048, WoodburyStrategy.Dense)]
    [TestCase(512, 256, 2048, WoodburyStrategy.RankK)]
    [TestCase(128, 1024, 512, WoodburyStrategy.Dense)]
    [TestCase(32, 64, 128, WoodburyStrategy.Dense)]
    public void Auto_OnADevice_IsTheFasterThere(int c, int m, int d, WoodburyStrategy faster)
    {
        var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-3 };
        var layout = BlockLayout.Create(d, c);
        using var ample = MemoryBudget.Override(1L << 40);
        Assert.That(WoodFisherBuilder.Resolve(layout, options, m, onDevice: true), Is.EqualTo(faster));
        if (d == 65_536)
        {
            Assert.That(WoodFisherBuilder.Resolve(layout, options, m, onDevice: false), Is.EqualTo(WoodburyStrategy.Dense), "the CPU model");
        }
    }
}
