using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

public class WoodFisherCurvatureTests
{
    [Test]
    public void WoodFisherCurvature_MatchesDenseBlockInverseOfDampedFisher()
    {
        var rng = new Random(1);
        const int d = 10;
        const int m = 7;
        var g = Oracle.RandomVector(rng, m * d);
        var segments = new[] { 6, 4 };
        var options = new WoodFisherOptions { BlockSize = 4, Damping = 0.05, Segments = segments, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var wf = WoodFisherCurvature.FromGradients(new ArrayGradientSource([.. g.Select(x => (float)x)], d, segments), options, chunkRows: 3);
        {
            var gf = g.Select(x => (double)(float)x).ToArray();
            var dense = DenseCurvature.FromGradients(gf, m, d, 0.05, BlockLayout.Create(d, 4, segments));
            var v = Oracle.RandomVector(rng, d);
            // float32 gradients enter both; float64 storage: agreement to ~1e-10 relative for κ ≲ 1e3.
            Assert.Multiple(() =>
            {
                Assert.That(Oracle.MaxAbsDiff(wf.Diagonal(), dense.Diagonal()), Is.LessThan(1e-8));
                Assert.That(Oracle.MaxAbsDiff(wf.Multiply(v), dense.Multiply(v)), Is.LessThan(1e-8));
                var w1 = Oracle.RandomVector(rng, d);
                var w2 = (double[])w1.Clone();
                var remove = new bool[d];
                remove[1] = remove[3] = remove[7] = true;
                wf.ObsUpdate(w1, remove);
                dense.ObsUpdate(w2, remove);
                Assert.That(Oracle.MaxAbsDiff(w1, w2), Is.LessThan(1e-7));
            });
        }
    }

    [Test]
    public void Float32LossOfDefiniteness_RebuildsInFloat64_AndMatchesDenseInverse()
    {
        // Nearly collinear gradients with ‖g‖²/λ ≈ 1e9: S = N·I + G F⁻¹ Gᵀ is far beyond float32's 7 digits, so the
        // float32 rank-k Cholesky fails; the float64 rebuild is exact to ~1e-6 relative on the well-conditioned inverse.
        var rng = new Random(5);
        const int d = 32;
        const int m = 32;
        const double lambda = 1e-8;
        var u = Oracle.RandomVector(rng, d);
        var g = new float[m * d];
        for (var n = 0; n < m; n++)
        {
            var a = 1 + rng.NextDouble();
            for (var i = 0; i < d; i++)
            {
                g[(n * d) + i] = (float)((a * u[i]) + (1e-4 * (rng.NextDouble() - 0.5)));
            }
        }

        var options = new WoodFisherOptions { BlockSize = d, Damping = lambda, Strategy = WoodburyStrategy.RankK, Precision = Precision.Float32, Backend = BackendKind.Cpu };
        using var wf = WoodFisherCurvature.FromGradients(new ArrayGradientSource(g, d, [d]), options);
        var dense = DenseCurvature.FromGradients([.. g.Select(x => (double)x)], m, d, lambda, BlockLayout.Create(d, d, [d]));
        Assert.That(wf.PrecisionFallback, Is.True);
        Assert.That(wf.Name, Does.Contain("float64"));
        var expected = dense.Diagonal();
        var actual = wf.Diagonal();
        for (var i = 0; i < d; i++)
        {
            Assert.That(actual[i], Is.EqualTo(expected[i]).Within(1e-4 * Math.Abs(expected[i])));
        }
    }
}
