using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// Full WoodFisher (c = d) through m × m systems against the float64 dense oracle: F̂ = λI + (1/N)GᵀG formed from the
/// same float32-rounded rows and inverted by Gauss–Jordan (<see cref="Oracle.Inverse"/>), which shares no code with the
/// Woodbury form.
/// </summary>
public class FullWoodFisherTests
{
    /// <summary>m rows of d (float32), F̂⁻¹ from the dense oracle, and the rows as a gradient source.</summary>
    private static (float[] Rows, double[] DenseInverse) Problem(int seed, int m, int d, double lambda, double? normalizer = null)
    {
        var rng = new Random(seed);
        var rows = Oracle.RandomVector(rng, m * d).Select(x => (float)x).ToArray();
        var n = normalizer ?? m;
        var f = new double[d * d];
        for (var i = 0; i < d; i++)
        {
            for (var j = 0; j < d; j++)
            {
                double s = 0;
                for (var r = 0; r < m; r++)
                {
                    s += (double)rows[(r * d) + i] * rows[(r * d) + j];
                }

                f[(i * d) + j] = (s / n) + (i == j ? lambda : 0);
            }
        }

        return (rows, Oracle.Inverse(f, d));
    }

    // m < d (the regime full WoodFisher is for: F̂ is λI plus a rank-m term) and m > d (GGᵀ singular, K = NλI + GGᵀ still
    // definite). λ = 0.05 keeps κ(F̂) ≲ 10², so float64 agreement is ~1e-12 relative; 1e-9 leaves room for the m × m Cholesky.
    [TestCase(12, 40, 0.05)]
    [TestCase(50, 20, 0.05)]
    public void Queries_MatchTheDenseInverse(int m, int d, double lambda)
    {
        var (rows, hinv) = Problem(m + d, m, d, lambda);
        var full = FullWoodFisherCurvature.FromGradients(new ArrayGradientSource(rows, d), lambda);
        var rng = new Random(7);
        var v = Oracle.RandomVector(rng, d);
        var scale = Enumerable.Range(0, d).Max(i => hinv[(i * d) + i]);
        var diagonal = Enumerable.Range(0, d).Select(i => hinv[(i * d) + i]).ToArray();
        int[] q = [1, 3, d / 2, d - 1];
        var sub = full.SubMatrix(q);
        Assert.Multiple(() =>
        {
            Assert.That(full.Layout.Count, Is.EqualTo(1), "one block of all d coordinates");
            Assert.That(full.Layout.BlockSize, Is.EqualTo(d));
            Assert.That(Oracle.MaxAbsDiff(full.Diagonal(), diagonal), Is.LessThan(1e-9 * scale), "diagonal");
            Assert.That(Oracle.MaxAbsDiff(full.Multiply(v), Oracle.MatVec(hinv, d, v)), Is.LessThan(1e-9 * scale * d), "IHVP");
            for (var a = 0; a < q.Length; a++)
            {
                for (var b = 0; b < q.Length; b++)
                {
                    Assert.That(sub[(a * q.Length) + b], Is.EqualTo(hinv[(q[a] * d) + q[b]]).Within(1e-9 * scale), $"[H⁻¹]_({q[a]},{q[b]})");
                }
            }
        });
    }

    /// <summary>F̂v = λv + (1/N)Gᵀ(Gv) applied to a vector, never formed; F̂⁻¹v by conjugate gradients (exact after m + 1 steps, F̂ being λI plus rank m).</summary>
    private static double[] ConjugateGradientSolve(float[] rows, int m, int d, double lambda, double[] b)
    {
        double[] Apply(double[] v)
        {
            var r = v.Select(x => lambda * x).ToArray();
            for (var i = 0; i < m; i++)
            {
                double s = 0;
                for (var j = 0; j < d; j++)
                {
                    s += rows[(i * d) + j] * v[j];
                }

                for (var j = 0; j < d; j++)
                {
                    r[j] += rows[(i * d) + j] * s / m;
                }
            }

            return r;
        }

        var x = new double[d];
        var res = (double[])b.Clone();
        var p = (double[])b.Clone();
        var rr = Oracle.Dot(res, res);
        for (var k = 0; k < 4 * (m + 1) && rr > 1e-30; k++)
        {
            var ap = Apply(p);
            var a = rr / Oracle.Dot(p, ap);
            for (var j = 0; j < d; j++)
            {
                x[j] += a * p[j];
                res[j] -= a * ap[j];
            }

            var next = Oracle.Dot(res, res);
            for (var j = 0; j < d; j++)
            {
                p[j] = res[j] + (next / rr * p[j]);
            }

            rr = next;
        }

        return x;
    }

    // d beyond one chunk of columns (2,048 widened at a time, split across cores): a dense d × d oracle would be slow, so
    // the oracle is conjugate gradients on F̂ applied matrix-free, which shares nothing with the Woodbury form.
    [Test]
    public void ManyColumnChunks_MatchConjugateGradients()
    {
        const int m = 6;
        const int d = 5000;
        const double lambda = 0.5;
        var rng = new Random(21);
        var rows = Oracle.RandomVector(rng, m * d).Select(x => (float)x).ToArray();
        var full = FullWoodFisherCurvature.FromGradients(new ArrayGradientSource(rows, d), lambda);
        var v = Oracle.RandomVector(rng, d);
        var diagonal = full.Diagonal();
        Assert.Multiple(() =>
        {
            Assert.That(Oracle.MaxAbsDiff(full.Multiply(v), ConjugateGradientSolve(rows, m, d, lambda, v)), Is.LessThan(1e-9), "IHVP");
            foreach (var q in new[] { 0, 2047, 2048, 4095, 4096, d - 1 })
            {
                var e = new double[d];
                e[q] = 1;
                Assert.That(diagonal[q], Is.EqualTo(ConjugateGradientSolve(rows, m, d, lambda, e)[q]).Within(1e-10), $"[F̂⁻¹]_qq at q = {q}");
            }
        });
    }

    // Q of a few coordinates, of about half, and of all but one (|Q| ≫ m: ([F̂⁻¹]_QQ)⁻¹ by the second Woodbury step).
    [TestCase(10, 30, 3)]
    [TestCase(10, 30, 15)]
    [TestCase(10, 30, 29)]
    [TestCase(40, 25, 12)]
    public void JointObsUpdate_MatchesTheDenseUpdateAndTheKktSolution(int m, int d, int pruned)
    {
        const double lambda = 0.05;
        var (rows, hinv) = Problem(3 * d, m, d, lambda);
        var full = FullWoodFisherCurvature.FromGradients(new ArrayGradientSource(rows, d), lambda);
        var rng = new Random(pruned);
        var w = Oracle.RandomVector(rng, d);
        var q = Enumerable.Range(0, d).OrderBy(_ => rng.Next()).Take(pruned).Order().ToArray();
        var expected = Oracle.JointUpdate(hinv, d, w, q);
        // The same step as the constrained minimiser of ½δᵀF̂δ with δ_Q = −w_Q (KKT by a dense solve of F̂ itself).
        var kkt = Oracle.ConstrainedStep(Oracle.Inverse(hinv, d), d, new double[d], w, q);
        var updated = (double[])w.Clone();
        full.ObsUpdate(updated, Oracle.Mask(d, q));
        var scale = w.Max(Math.Abs);
        Assert.Multiple(() =>
        {
            Assert.That(Oracle.MaxAbsDiff(updated, expected), Is.LessThan(1e-8 * scale), "dense −H⁻¹E_Q([H⁻¹]_QQ)⁻¹w_Q");
            Assert.That(Oracle.MaxAbsDiff(updated, [.. w.Zip(kkt, (a, b) => a + b)]), Is.LessThan(1e-7 * scale), "KKT");
            Assert.That(q.Select(i => updated[i]), Is.All.EqualTo(0.0), "pruned weights end exactly at zero");
        });
    }

    [Test]
    public void MiniBatchAndNormalizer_AreThoseOfTheAveragedRows()
    {
        // 7 rows in groups of 3: two full groups and a trailing group of one, each averaged; N given explicitly.
        const int d = 9;
        var rng = new Random(11);
        var raw = Oracle.RandomVector(rng, 7 * d).Select(x => (float)x).ToArray();
        var averaged = new float[3 * d];
        int[][] groups = [[0, 1, 2], [3, 4, 5], [6]];
        for (var g = 0; g < groups.Length; g++)
        {
            for (var j = 0; j < d; j++)
            {
                averaged[(g * d) + j] = (float)(groups[g].Sum(r => (double)raw[(r * d) + j]) / groups[g].Length);
            }
        }

        var batched = FullWoodFisherCurvature.FromGradients(new ArrayGradientSource(raw, d), 0.1, normalizer: 5, miniBatch: 3);
        var direct = FullWoodFisherCurvature.FromGradients(new ArrayGradientSource(averaged, d), 0.1, normalizer: 5);
        Assert.That(batched.Diagonal(), Is.EqualTo(direct.Diagonal()).Within(1e-12));
    }

    [Test]
    public void Registry_BlockFull_BuildsTheFullInverse_AndPrunesAsTheDenseOneBlockOracle()
    {
        const int m = 6;
        const int d = 16;
        const double lambda = 0.1;
        var (rows, hinv) = Problem(5, m, d, lambda);
        var spec = MethodSpec.Parse("woodfisher:block=full,damping=0.1");
        Assert.That(spec.Estimator.BlockSize, Is.EqualTo(EstimatorSpec.FullBlockSize));
        var inverse = PruningMethod.WoodFisher.FromGradients(new ArrayGradientSource(rows, d, [10, 6]), spec.Estimator);
        Assert.That(inverse, Is.TypeOf<FullWoodFisherCurvature>(), "segments do not cut the full block");

        var w = Oracle.RandomVector(new Random(2), d);
        var options = spec.Pruning with { Sparsity = 0.5 };
        var result = TensorPruning.Prune(w, new ArrayGradientSource(rows, d), options, spec.Estimator);
        // Oracle: scores w²/(2[H⁻¹]_qq) from the dense inverse, the 8 lowest pruned, the dense joint update.
        var scores = Enumerable.Range(0, d).Select(i => w[i] * w[i] / (2 * hinv[(i * d) + i])).ToArray();
        var q = Enumerable.Range(0, d).OrderBy(i => scores[i]).ThenBy(i => i).Take(d / 2).Order().ToArray();
        Assert.Multiple(() =>
        {
            Assert.That(Enumerable.Range(0, d).Where(i => !result.Mask[i]), Is.EqualTo(q));
            Assert.That(Oracle.MaxAbsDiff(result.Weights, Oracle.JointUpdate(hinv, d, w, q)), Is.LessThan(1e-8));
        });
    }

    [Test]
    public void Vocabulary_ReadsFullOrACount_AndRefusesTheRest()
    {
        Assert.Multiple(() =>
        {
            Assert.That(Vocabulary.BlockSize("full"), Is.EqualTo(EstimatorSpec.FullBlockSize));
            Assert.That(Vocabulary.BlockSize(" FULL "), Is.EqualTo(EstimatorSpec.FullBlockSize));
            Assert.That(Vocabulary.BlockSize("128"), Is.EqualTo(128));
            Assert.That(() => Vocabulary.BlockSize("0"), Throws.TypeOf<FormatException>());
            Assert.That(() => Vocabulary.BlockSize("fulll"), Throws.TypeOf<FormatException>());
        });
    }

    [Test]
    public void TooManyRowsForTheBudget_AreRefusedBeforeReading()
    {
        var rows = new float[4 * 1000];
        using var _ = MemoryBudget.Override(10_000);
        Assert.That(() => FullWoodFisherCurvature.FromGradients(new ArrayGradientSource(rows, 1000), 0.1),
            Throws.TypeOf<InsufficientMemoryException>().With.Message.Contains("keeps its m = 4 gradients"));
    }
}
