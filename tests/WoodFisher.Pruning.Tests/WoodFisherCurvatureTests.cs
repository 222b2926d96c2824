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
}
