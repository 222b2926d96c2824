using WoodFisher.Kernels;
using WoodFisher.Models;

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
                var mask = Enumerable.Repeat(true, d).ToArray();
                mask[1] = mask[3] = mask[7] = false;
                wf.ObsUpdate(w1, mask);
                dense.ObsUpdate(w2, mask);
                Assert.That(Oracle.MaxAbsDiff(w1, w2), Is.LessThan(1e-7));
            });
        }
    }

    [Test]
    public void Constructor_LeavesTheInverseToItsOwner_UnlessHandedOver()
    {
        var rng = new Random(2);
        const int d = 6;
        var g = Oracle.RandomVector(rng, 4 * d).Select(x => (float)x).ToArray();
        WoodFisherInverse Build()
        {
            using var builder = new WoodFisherBuilder(d, new WoodFisherOptions { BlockSize = 3, Damping = 0.1, Backend = BackendKind.Cpu }, 4);
            builder.Add(g, 4);
            return builder.Build();
        }

        using var inv = Build();
        var before = inv.Diagonal();
        using (var borrowed = new WoodFisherCurvature(inv))
        {
            Assert.That(borrowed.Diagonal(), Is.EqualTo(before));
        }

        Assert.That(inv.Diagonal(), Is.EqualTo(before), "the caller's `using var inv` still owns it");

        var handed = Build();
        new WoodFisherCurvature(handed, ownsInverse: true).Dispose();
        Assert.That(() => handed.Diagonal(), Throws.Exception, "disposed with the wrapper");
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

    [Test]
    public void FromGradients_StreamsTheSourceInBoundedChunks_WithTheRowCountKnown()
    {
        // d = 50,000: a 256-row read would be 12.8M floats; reads are capped at MaxChunkElements (83 rows) and the builder
        // is told m = 120 up front, so RankK (which needs N before its first update) streams instead of buffering all rows.
        const int d = 50_000;
        const int m = 120;
        var source = new RecordingGradientSource(d, m);
        var options = new WoodFisherOptions { BlockSize = 64, Damping = 1e-2, Strategy = WoodburyStrategy.RankK, Precision = Precision.Float64, Backend = BackendKind.Cpu };
        using var wf = WoodFisherCurvature.FromGradients(source, options);
        Assert.Multiple(() =>
        {
            Assert.That(source.Requests, Has.All.Matches<int>(rows => (long)rows * d <= WoodFisherCurvature.MaxChunkElements));
            Assert.That(source.Requests.Max(), Is.LessThan(m), "never asked for all rows at once");
            Assert.That(source.RowsRead, Is.EqualTo(m), "one pass over the source");
            Assert.That(source.Resets, Is.EqualTo(1));
            Assert.That(wf.Inverse.Strategy, Is.EqualTo(WoodburyStrategy.RankK));
            Assert.That(wf.Inverse.SampleCount, Is.EqualTo(m));
        });
    }

    /// <summary>Generates row r on demand (entries sin(r + 0.37 i) / 8, no G in memory) and records every read.</summary>
    private sealed class RecordingGradientSource(int dimension, int count) : IGradientSource
    {
        private int _next;

        public List<int> Requests { get; } = [];

        public long RowsRead { get; private set; }

        public int Resets { get; private set; }

        public int Dimension => dimension;

        public long Count => count;

        public IReadOnlyList<int> Segments => [dimension];

        public int Read(Span<float> buffer, int maxRows)
        {
            Requests.Add(maxRows);
            var n = Math.Min(maxRows, count - _next);
            for (var r = 0; r < n; r++)
            {
                for (var i = 0; i < dimension; i++)
                {
                    buffer[(r * dimension) + i] = (float)(Math.Sin(_next + r + (0.37 * i)) / 8);
                }
            }

            _next += n;
            RowsRead += n;
            return n;
        }

        public void Reset()
        {
            Resets++;
            _next = 0;
        }
    }
}
