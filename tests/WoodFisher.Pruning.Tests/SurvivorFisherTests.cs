using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

/// <summary>The Fisher of the surviving weights: estimates from <see cref="MaskedGradientSource"/> against dense oracles that drop the pruned coordinates.</summary>
public class SurvivorFisherTests
{
    private const int D = 12;
    private const int M = 9;
    private const double Lambda = 0.05;

    private static (float[] Rows, bool[] Mask) Problem(int seed)
    {
        var rng = new Random(seed);
        var rows = Oracle.RandomVector(rng, M * D).Select(v => (float)v).ToArray();
        var mask = Enumerable.Range(0, D).Select(i => i is not (1 or 4 or 5 or 10)).ToArray();
        return (rows, mask);
    }

    /// <summary>(λI + (1/M)Σ g_S g_Sᵀ)⁻¹ over the survivors S, inverted by Gauss–Jordan: the oracle.</summary>
    private static double[] SurvivorInverse(float[] rows, int[] survivors) => Oracle.Inverse(SurvivorFisher(rows, survivors), survivors.Length);

    /// <summary>λI + (1/M)Σ g_S g_Sᵀ over the survivors S, by explicit loops.</summary>
    private static double[] SurvivorFisher(float[] rows, int[] survivors)
    {
        var k = survivors.Length;
        var f = new double[k * k];
        for (var i = 0; i < k; i++)
        {
            f[(i * k) + i] = Lambda;
            for (var j = 0; j < k; j++)
            {
                for (var n = 0; n < M; n++)
                {
                    f[(i * k) + j] += (double)rows[(n * D) + survivors[i]] * rows[(n * D) + survivors[j]] / M;
                }
            }
        }

        return f;
    }

    [Test]
    public void MaskedFisher_EqualsDenseInverseWithoutPrunedCoordinates_AndIsLambdaIdentityOnPruned()
    {
        var (rows, mask) = Problem(1);
        var layout = BlockLayout.Create(D, 6);
        var options = new WoodFisherOptions { BlockSize = 6, Damping = Lambda, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var wf = WoodFisherCurvature.FromGradients(new MaskedGradientSource(new ArrayGradientSource(rows, D), mask), options);
        for (var b = 0; b < layout.Count; b++)
        {
            var block = Enumerable.Range(layout.Offset(b), layout.Size(b)).ToArray();
            var survivors = block.Where(i => mask[i]).ToArray();
            var oracle = SurvivorInverse(rows, survivors);
            var actual = wf.SubMatrix(block);
            var c = block.Length;
            for (var i = 0; i < c; i++)
            {
                for (var j = 0; j < c; j++)
                {
                    var si = Array.IndexOf(survivors, block[i]);
                    var sj = Array.IndexOf(survivors, block[j]);
                    // Pruned rows and columns of F̂ are exactly λ·I, so those of F̂⁻¹ are I/λ: zero coupling to survivors.
                    var expected = si >= 0 && sj >= 0 ? oracle[(si * survivors.Length) + sj] : i == j ? 1 / Lambda : 0;

                    // float32 rows, float64 Woodbury updates of a κ ≲ 1e3 block: ~1e-12 relative; 1e-9 leaves margin.
                    Assert.That(actual[(i * c) + j], Is.EqualTo(expected).Within(1e-9 * Math.Max(1, Math.Abs(expected))), $"block {b} ({i}, {j})");
                }
            }
        }
    }

    [Test]
    public void MaskedSource_ZeroesPrunedColumnsOnly_AndRejectsAWrongMask()
    {
        var (rows, mask) = Problem(2);
        var source = new MaskedGradientSource(new ArrayGradientSource(rows, D), mask);
        var read = new float[M * D];
        Assert.That(source.Read(read, M), Is.EqualTo(M));
        Assert.Multiple(() =>
        {
            Assert.That(source.PrunedCount, Is.EqualTo(mask.Count(k => !k)));
            for (var i = 0; i < read.Length; i++)
            {
                Assert.That(read[i], Is.EqualTo(mask[i % D] ? rows[i] : 0f));
            }

            Assert.That(() => new MaskedGradientSource(new ArrayGradientSource(rows, D), new bool[D - 1]), Throws.ArgumentException.With.Message.Contains("11 entries"));
        });
    }

    [Test]
    public void TensorModeRecompute_RebuildsEachStepFromTheSurvivorsGradients()
    {
        // Three cubic steps from G alone: each step's estimate must be the dense inverse of the survivors' Fisher at the
        // mask the previous step left, not one inverse reused.
        var (rows, _) = Problem(3);
        var w = Oracle.RandomVector(new Random(4), D);
        var options = new PrunerOptions { Sparsity = 0.75, RecomputeSteps = 3 };
        var spec = new EstimatorSpec { BlockSize = D, Damping = Lambda, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        var actual = TensorPruning.Prune(w, new ArrayGradientSource(rows, D), options, spec);

        var masks = new List<bool[]>();
        CurvatureFactory oracle = (_, mask) =>
        {
            masks.Add(mask);
            var survivors = Enumerable.Range(0, D).Where(i => mask[i]).ToArray();
            var full = new double[D * D];
            for (var i = 0; i < D; i++)
            {
                full[(i * D) + i] = Lambda;
            }

            // The survivors' Fisher embedded in λI: what dropping the pruned gradient columns means.
            var h = SurvivorFisher(rows, survivors);
            for (var i = 0; i < survivors.Length; i++)
            {
                for (var j = 0; j < survivors.Length; j++)
                {
                    full[(survivors[i] * D) + survivors[j]] = h[(i * survivors.Length) + j];
                }
            }

            return new CurvatureEstimate(new DenseCurvature(full, D, 0));
        };
        var expected = new Pruner(options).Prune(w, oracle);
        Assert.Multiple(() =>
        {
            Assert.That(masks[1].Count(k => !k), Is.GreaterThan(0), "the second step sees a mask");
            Assert.That(actual.Mask, Is.EqualTo(expected.Mask));
            Assert.That(Oracle.MaxAbsDiff(actual.Weights, expected.Weights), Is.LessThan(1e-8));
            Assert.That(actual.Steps.Select(s => s.TargetSparsity), Is.EqualTo(expected.Steps.Select(s => s.TargetSparsity)));
        });
    }

    [Test]
    public void ModelCurvature_WithAMask_IsTheFisherOfTheSurvivors()
    {
        var model = WoodFisher.Models.ModelFactory.Create("mlp:6-4-3", seed: 2);
        var rng = new Random(5);
        var x = Enumerable.Range(0, 30 * 6).Select(_ => (float)rng.NextDouble()).ToArray();
        var y = Enumerable.Range(0, 30).Select(i => i % 3).ToArray();
        var selection = WoodFisher.Models.ParameterSelection<float>.Prunable(model);
        var mc = new ModelCurvature(model, selection, x, y);
        var d = selection.Dimension;
        var mask = Enumerable.Range(0, d).Select(i => i % 3 != 0).ToArray();
        var spec = new EstimatorSpec { BlockSize = 6, Damping = Lambda, Samples = 30, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var sample = mc.Factory(spec)(mc.GetWeights(), mask);
        using var masked = (WoodFisherCurvature)sample.Build().Inverse;

        var g = WoodFisher.Models.PerSampleGradients.Compute(model, x, y, 30, selection);
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = mask[i % d] ? g[i] : 0;
        }

        using var direct = WoodFisherCurvature.FromGradients(new ArrayGradientSource(g, d, selection.Segments), new WoodFisherOptions { BlockSize = 6, Damping = Lambda, Segments = selection.Segments, Precision = Precision.Float64, Backend = BackendKind.Cpu });
        Assert.That(Oracle.MaxAbsDiff(masked.Diagonal(), direct.Diagonal()), Is.LessThan(1e-9));
        for (var q = 0; q < d; q++)
        {
            if (!mask[q])
            {
                Assert.That(masked.Diagonal()[q], Is.EqualTo(1 / Lambda).Within(1e-9 / Lambda));
            }
        }
    }
}
