using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

/// <summary><see cref="EstimatorSpec.AutoBlockSize"/>: the largest c of the grid within the work cap and half the memory budget.</summary>
public class AutoBlockSizeTests
{
    [Test]
    public void BlockSizeFor_FollowsTheRule()
    {
        var auto = new EstimatorSpec();
        Assert.Multiple(() =>
        {
            Assert.That(auto.BlockSize, Is.EqualTo(EstimatorSpec.AutoBlockSize), "automatic by default");
            Assert.That(auto.BlockSizeFor(32_360), Is.EqualTo(400), "the 784-40-20-10 MLP: 12.9 M values");

            // The work cap, d·c ≤ 2²⁷: just above it for c = 400 gives 200; above it for c = 100 still gives the smallest, 100.
            Assert.That(auto.BlockSizeFor((EstimatorSpec.AutoBlockEntries / 400) + 1), Is.EqualTo(200));
            Assert.That(auto.BlockSizeFor((EstimatorSpec.AutoBlockEntries / 200) + 1), Is.EqualTo(100));
            Assert.That(auto.BlockSizeFor(10 * EstimatorSpec.AutoBlockEntries), Is.EqualTo(100));
            Assert.That(new EstimatorSpec { BlockSize = 37 }.BlockSizeFor(32_360), Is.EqualTo(37), "a given c is kept");
        });

        // d = 10,000: c = 400 needs 16 MB (float32), c = 200 8 MB, c = 100 4 MB; half of a 20 MB budget is 10 MB.
        using (MemoryBudget.Override(20_000_000))
        {
            Assert.That(auto.BlockSizeFor(10_000), Is.EqualTo(200));
            Assert.That((auto with { Precision = Precision.Float64 }).BlockSizeFor(10_000), Is.EqualTo(100), "8 bytes per value in float64");
        }

        using (MemoryBudget.Override(40_000_000))
        {
            Assert.That(auto.BlockSizeFor(10_000), Is.EqualTo(400));
        }
    }

    [Test]
    public void Auto_ParsesAndValidates()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Vocabulary.BlockSize("auto"), Is.EqualTo(EstimatorSpec.AutoBlockSize));
            Assert.That(Vocabulary.BlockText(EstimatorSpec.AutoBlockSize), Is.EqualTo("auto"));
            Assert.That(Vocabulary.BlockText(200), Is.EqualTo("200"));
            Assert.That(EstimatorSpec.Parse("woodfisher:block=auto").BlockSize, Is.EqualTo(EstimatorSpec.AutoBlockSize));
            Assert.That(() => new EstimatorSpec().Validate(), Throws.Nothing);
            Assert.That(() => new EstimatorSpec { BlockSize = -3 }.Validate(), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }

    /// <summary>
    /// A synthetic case whose best block size is known: gradients g = A·z + noise with A (d × 12) dense, so the Fisher
    /// couples every coordinate with every other, and the pruned weight change δ of each c is judged by the exact
    /// quadratic cost ½δᵀF̂δ under the full empirical Fisher F̂ = (1/m)Σgₙgₙᵀ (the oracle, from the rows in float64).
    /// Larger blocks see more of F̂, and the automatic choice lands on the best of the grid.
    /// </summary>
    [Test]
    public void Auto_PicksTheKnownBest_OnASyntheticFisher()
    {
        const int d = 800, m = 600, k = 12;
        var rng = new Random(5);
        var a = Oracle.RandomVector(rng, d * k);
        var rows = new float[m * d];
        for (var n = 0; n < m; n++)
        {
            var z = Oracle.RandomVector(rng, k);
            for (var i = 0; i < d; i++)
            {
                var v = 0.05 * Oracle.RandomVector(rng, 1)[0];
                for (var j = 0; j < k; j++)
                {
                    v += a[(i * k) + j] * z[j];
                }

                rows[(n * d) + i] = (float)v;
            }
        }

        var w = Oracle.RandomVector(rng, d);
        var options = new PrunerOptions { Sparsity = 0.5 };
        double Cost(int c)
        {
            var spec = new EstimatorSpec { BlockSize = c, Damping = 1e-3, Precision = Precision.Float64 };
            var after = TensorPruning.Prune(w, new ArrayGradientSource(rows, d), options, spec).Weights;
            double sum = 0;
            for (var n = 0; n < m; n++)
            {
                double dot = 0;
                for (var i = 0; i < d; i++)
                {
                    dot += rows[(n * d) + i] * (after[i] - w[i]);
                }

                sum += dot * dot;
            }

            return sum / (2 * m);
        }

        var costs = EstimatorSpec.AutoBlockSizes.ToDictionary(c => c, Cost);
        var chosen = new EstimatorSpec().BlockSizeFor(d);
        Assert.Multiple(() =>
        {
            Assert.That(chosen, Is.EqualTo(costs.MinBy(p => p.Value).Key), string.Join(", ", costs.Select(p => $"c = {p.Key}: {p.Value:g4}")));
            Assert.That(Cost(EstimatorSpec.AutoBlockSize), Is.EqualTo(costs[chosen]).Within(1e-9).Percent, "block=auto prunes as the c it resolves to");
        });
    }
}
