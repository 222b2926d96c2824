using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// The model-mode damping search inverts one set of block Gram matrices per λ (<see cref="DampingSweep"/>); each λ's
/// inverse must equal the per-λ rebuild from the same rows (the Woodbury rank-k strategy, which keeps no Gram) within
/// 1e-9 of max |F̂⁻¹| in float64 (both lose about log10 κ ≤ 5 of float64's digits here), pruned coordinates included.
/// </summary>
public class DampingSweepTests
{
    [Test]
    public void ModelMode_EachLambda_EqualsThePerLambdaRebuild()
    {
        var (model, selection, x, y) = Mlp(9, 60);
        var curvature = new ModelCurvature(model, selection, x, y) { CalibrationSamples = 20 };
        var mask = Enumerable.Range(0, selection.Dimension).Select(i => i % 5 != 0).ToArray();
        double[] grid = [1e-4, 1e-2, 1];
        var spec = new EstimatorSpec { BlockSize = 8, Samples = 30, Damping = Damping.Search(grid), Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var swept = curvature.Sample(spec, mask);
        using var rebuilt = curvature.Sample(spec with { Strategy = WoodburyStrategy.RankK }, mask);
        foreach (var lambda in grid.Reverse())
        {
            using var a = (WoodFisherCurvature)swept.Build(lambda).Inverse;
            using var b = (WoodFisherCurvature)rebuilt.Build(lambda).Inverse;
            var expected = Enumerable.Range(0, b.Layout.Count).SelectMany(b.Inverse.Block).ToArray();
            var scale = expected.Max(Math.Abs);
            Assert.Multiple(() =>
            {
                Assert.That(a.Inverse.Strategy, Is.EqualTo(WoodburyStrategy.Dense), "the sweep's Gram");
                Assert.That(b.Inverse.Strategy, Is.EqualTo(WoodburyStrategy.RankK), "a rebuild");
                Assert.That(Enumerable.Range(0, a.Layout.Count).SelectMany(a.Inverse.Block), Is.EqualTo(expected).Within(1e-9 * scale), $"λ = {lambda}");
            });
        }
    }

    /// <summary>A small MLP (6-5-3) and <paramref name="n"/> random samples in [−1, 1) with random labels.</summary>
    internal static (IModel<float> Model, ParameterSelection<float> Selection, float[] X, int[] Y) Mlp(int seed, int n)
    {
        var model = ModelFactory.Create("mlp:6-5-3", seed: 4);
        var rng = new Random(seed);
        var x = Enumerable.Range(0, n * 6).Select(_ => (float)((2 * rng.NextDouble()) - 1)).ToArray();
        var y = Enumerable.Range(0, n).Select(_ => rng.Next(3)).ToArray();
        return (model, ParameterSelection<float>.Prunable(model), x, y);
    }
}

/// <summary><see cref="ModelCurvature.Resample"/>: the k-th sample of a factory is the draw seeded 1000·s + k.</summary>
public class ResampleTests
{
    [Test]
    public void Resample_TheKthSampleIsTheDrawOfSeed1000sPlusK_WithoutIt_TheSameSamples()
    {
        var (model, selection, x, y) = DampingSweepTests.Mlp(10, 80);
        var spec = new EstimatorSpec { BlockSize = 8, Samples = 20, Damping = 1e-2, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        var fresh = new ModelCurvature(model, selection, x, y) { Resample = true };
        var same = new ModelCurvature(model, selection, x, y);
        var w = fresh.GetWeights();
        var mask = new bool[w.Length];
        Array.Fill(mask, true);

        double[] Diagonal(CurvatureFactory factory)
        {
            using var sample = factory(w, mask);
            using var inverse = (WoodFisherCurvature)sample.Build().Inverse;
            return inverse.Diagonal();
        }

        var plain = same.Factory(spec);
        var once = Diagonal(plain);
        var seeded = fresh.Factory(spec with { Seed = 2 });
        var first = Diagonal(seeded);
        var second = Diagonal(seeded);
        Assert.Multiple(() =>
        {
            Assert.That(first, Is.EqualTo(Diagonal(same.Factory(spec with { Seed = 2001 }))), "draw 1 of seed 2");
            Assert.That(second, Is.EqualTo(Diagonal(same.Factory(spec with { Seed = 2002 }))), "draw 2 of seed 2");
            Assert.That(second, Is.Not.EqualTo(first));
            Assert.That(Diagonal(plain), Is.EqualTo(once), "without Resample: the first samples each time");
        });
    }
}
