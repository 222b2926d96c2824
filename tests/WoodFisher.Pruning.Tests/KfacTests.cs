namespace WoodFisher.Pruning.Tests;

public class KfacTests
{
    // Products and inverses of ≤ 20-dimensional well-conditioned matrices: round-off ~1e-13.
    private const double Tol = 1e-10;

    private static double[] Damp(double[] m, int n, double shift)
    {
        var r = (double[])m.Clone();
        for (var i = 0; i < n; i++)
        {
            r[(i * n) + i] += shift;
        }

        return r;
    }

    /// <summary>Dense H for PyTorch layout: H[(o·nA + i), (o′·nA + i′)] = G[o,o′]·A[i,i′] (augmented index order).</summary>
    private static double[] KronRowMajor(double[] g, int no, double[] a, int na)
    {
        var n = no * na;
        var h = new double[n * n];
        for (var o = 0; o < no; o++)
        {
            for (var i = 0; i < na; i++)
            {
                for (var o2 = 0; o2 < no; o2++)
                {
                    for (var i2 = 0; i2 < na; i2++)
                    {
                        h[(((o * na) + i) * n) + (o2 * na) + i2] = g[(o * no) + o2] * a[(i * na) + i2];
                    }
                }
            }
        }

        return h;
    }

    [Test]
    public void InverseEntries_EqualDenseKroneckerInverse_InPyTorchLayout()
    {
        var rng = new Random(1);
        const int no = 3;
        const int ni = 4;
        var a = Oracle.RandomSpd(rng, ni);
        var g = Oracle.RandomSpd(rng, no);
        const double lambda = 0.04;
        var kfac = new KfacCurvature([new KfacLayer(no, ni, a, g)], lambda, KfacDamping.Plain, blockSize: 5);
        var root = Math.Sqrt(lambda);
        var dense = Oracle.Inverse(KronRowMajor(Damp(g, no, root), no, Damp(a, ni, root), ni), no * ni);
        const int d = no * ni;
        var diag = kfac.Diagonal();
        var v = Oracle.RandomVector(rng, d);
        Assert.Multiple(() =>
        {
            for (var p = 0; p < d; p++)
            {
                for (var q = 0; q < d; q++)
                {
                    Assert.That(kfac.Entry(p, q), Is.EqualTo(dense[(p * d) + q]).Within(Tol), $"({p},{q})");
                }

                Assert.That(diag[p], Is.EqualTo(dense[(p * d) + p]).Within(Tol));
            }

            Assert.That(Oracle.MaxAbsDiff(kfac.Multiply(v), Oracle.MatVec(dense, d, v)), Is.LessThan(Tol));
            // index o·in + i couples to G⁻¹[o,o′]·A⁻¹[i,i′]: entry (o=1,i=2),(o′=2,i′=0)
            var gi = Oracle.Inverse(Damp(g, no, root), no);
            var ai = Oracle.Inverse(Damp(a, ni, root), ni);
            Assert.That(kfac.Entry((1 * ni) + 2, (2 * ni) + 0), Is.EqualTo(gi[(1 * no) + 2] * ai[(2 * ni) + 0]).Within(Tol));
        });
    }

    [Test]
    public void Bias_UsesHomogeneousCoordinate_AsLastInputIndex()
    {
        var rng = new Random(2);
        const int no = 2;
        const int ni = 3;
        var a = Oracle.RandomSpd(rng, ni + 1);
        var g = Oracle.RandomSpd(rng, no);
        var kfac = new KfacCurvature([new KfacLayer(no, ni, a, g, HasBias: true)], 0.01, KfacDamping.Plain);
        var root = 0.1;
        var aug = Oracle.Inverse(KronRowMajor(Damp(g, no, root), no, Damp(a, ni + 1, root), ni + 1), no * (ni + 1));
        const int na = ni + 1;
        const int n = no * na;
        // coordinate → augmented index: weight o·in + i ↦ o·nA + i, bias no·in + o ↦ o·nA + in
        int Map(int p) => p < no * ni ? ((p / ni) * na) + (p % ni) : ((p - (no * ni)) * na) + ni;
        Assert.That(kfac.Dimension, Is.EqualTo((no * ni) + no));
        Assert.That(kfac.Layout.Segments, Is.EqualTo(new[] { no * ni, no }));
        for (var p = 0; p < kfac.Dimension; p++)
        {
            for (var q = 0; q < kfac.Dimension; q++)
            {
                Assert.That(kfac.Entry(p, q), Is.EqualTo(aug[(Map(p) * n) + Map(q)]).Within(Tol), $"({p},{q})");
            }
        }

        var v = Oracle.RandomVector(rng, kfac.Dimension);
        var va = new double[n];
        for (var p = 0; p < v.Length; p++)
        {
            va[Map(p)] = v[p];
        }

        var ra = Oracle.MatVec(aug, n, va);
        var r = kfac.Multiply(v);
        for (var p = 0; p < v.Length; p++)
        {
            Assert.That(r[p], Is.EqualTo(ra[Map(p)]).Within(Tol));
        }
    }

    [Test]
    public void PiCorrectedDamping_SplitsRootLambdaByTraceRatio()
    {
        var rng = new Random(3);
        var a = Oracle.RandomSpd(rng, 4, 2.0);
        var g = Oracle.RandomSpd(rng, 3, 0.1);
        const double lambda = 0.09;
        var kfac = new KfacCurvature([new KfacLayer(3, 4, a, g)], lambda);
        double ta = 0;
        double tg = 0;
        for (var i = 0; i < 4; i++)
        {
            ta += a[(i * 4) + i] / 4;
        }

        for (var i = 0; i < 3; i++)
        {
            tg += g[(i * 3) + i] / 3;
        }

        var pi = Math.Sqrt(ta / tg);
        Assert.Multiple(() =>
        {
            Assert.That(Oracle.MaxAbsDiff(kfac.InputFactorInverse(0), Oracle.Inverse(Damp(a, 4, pi * 0.3), 4)), Is.LessThan(Tol));
            Assert.That(Oracle.MaxAbsDiff(kfac.OutputFactorInverse(0), Oracle.Inverse(Damp(g, 3, 0.3 / pi), 3)), Is.LessThan(Tol));
        });
    }

    [Test]
    public void ObsUpdate_IsExactJointUpdateOfBlockDiagonalPart()
    {
        var rng = new Random(4);
        const int no = 3;
        const int ni = 5;
        var layers = new[]
        {
            new KfacLayer(no, ni, Oracle.RandomSpd(rng, ni), Oracle.RandomSpd(rng, no)),
            new KfacLayer(2, 3, Oracle.RandomSpd(rng, 3), Oracle.RandomSpd(rng, 2)),
        };
        var kfac = new KfacCurvature(layers, 0.01, blockSize: 4);
        var d = kfac.Dimension;
        var full = new double[d * d];
        for (var p = 0; p < d; p++)
        {
            for (var r = 0; r < d; r++)
            {
                full[(p * d) + r] = kfac.Entry(p, r);
            }
        }

        var blocks = Enumerable.Range(0, kfac.Layout.Count).Select(b => (kfac.Layout.Offset(b), kfac.Layout.Size(b))).ToArray();
        var hinvBlocks = Oracle.BlockDiagonal(full, d, blocks);
        // The block-diagonal H⁻¹ is the inverse of a block-diagonal H: solve the KKT system with that H.
        var h = Oracle.Inverse(hinvBlocks, d);
        var w = Oracle.RandomVector(rng, d);
        int[] q = [0, 2, 5, 6, 7, 14, 16, 20];
        var mask = Oracle.Mask(d, q);

        var updated = (double[])w.Clone();
        kfac.ObsUpdate(updated, mask);
        var kkt = Oracle.ConstrainedStep(h, d, new double[d], w, q);
        for (var i = 0; i < d; i++)
        {
            Assert.That(updated[i], Is.EqualTo(w[i] + kkt[i]).Within(1e-9), $"i = {i}");
        }

        Assert.That(kfac.SubMatrix([4, 5, 7])[1], Is.EqualTo(full[(4 * d) + 5]).Within(Tol));
        Assert.That(() => kfac.SubMatrix([3, 4]), Throws.ArgumentException);
    }

    [Test]
    public void BadFactors_Throw()
    {
        Assert.Multiple(() =>
        {
            Assert.That(() => new KfacCurvature([new KfacLayer(2, 2, [1, 0, 0, 1], [1])], 0.1), Throws.ArgumentException);
            Assert.That(() => new KfacCurvature([new KfacLayer(1, 1, [-1], [1])], 0.0), Throws.TypeOf<CurvatureNotPositiveDefiniteException>());
            Assert.That(() => new KfacCurvature([], 0.1), Throws.ArgumentException);
        });
    }
}
