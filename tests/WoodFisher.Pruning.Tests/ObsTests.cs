using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

public class ObsTests
{
    // Dense solves of 8–12 dimensional well-conditioned systems: round-off ~1e-13; 1e-9 leaves margin.
    private const double Tol = 1e-9;

    private static (double[] H, DenseCurvature Inverse) Problem(int n, int seed, BlockLayout? layout = null)
    {
        var h = Oracle.RandomSpd(new Random(seed), n);
        if (layout is not null)
        {
            h = Oracle.BlockDiagonal(h, n, Enumerable.Range(0, layout.Count).Select(b => (layout.Offset(b), layout.Size(b))));
        }

        return (h, new DenseCurvature(h, n, 0.0, layout: layout));
    }

    [Test]
    public void ObsScore_IsWeightSquaredOverTwiceInverseDiagonal()
    {
        double[] w = [1.5, -2, 0.5];
        double[] diag = [0.5, 2, 0.25];
        var s = new double[3];
        ObsScore.Compute(w, diag, s);
        Assert.That(s, Is.EqualTo(new[] { 2.25, 1.0, 0.5 }).Within(1e-15));
    }

    [Test]
    public void SingleWeightObs_FromOptimum_IncreasesQuadraticLossByExactlyRho()
    {
        const int n = 8;
        var (h, inv) = Problem(n, 11);
        var wStar = Oracle.RandomVector(new Random(12), n);
        var rho = ObsScore.Compute(wStar, inv);
        for (var q = 0; q < n; q++)
        {
            var w = (double[])wStar.Clone();
            var mask = Oracle.Mask(n, [q]);
            ObsWeightUpdate.Apply(UpdateMode.Joint, inv, w, mask);
            Assert.That(w[q], Is.Zero);
            Assert.That(Oracle.Quadratic(h, w, wStar), Is.EqualTo(rho[q]).Within(Tol * Math.Max(1, rho[q])), $"q = {q}");
        }
    }

    [Test]
    public void JointUpdate_SolvesConstrainedQuadratic()
    {
        const int n = 10;
        var (h, inv) = Problem(n, 21);
        var w = Oracle.RandomVector(new Random(22), n);
        int[] q = [1, 4, 5, 8];
        var mask = Oracle.Mask(n, q);

        var expected = Oracle.ConstrainedStep(h, n, new double[n], w, q);
        var updated = (double[])w.Clone();
        inv.ObsUpdate(updated, mask);
        for (var i = 0; i < n; i++)
        {
            Assert.That(updated[i], Is.EqualTo(w[i] + expected[i]).Within(Tol), $"i = {i}");
        }

        foreach (var i in q)
        {
            Assert.That(updated[i], Is.Zero);
        }
    }

    [Test]
    public void JointUpdate_PerBlock_SolvesBlockDiagonalConstrainedQuadratic()
    {
        const int n = 11;
        var layout = BlockLayout.Create(n, 4, [6, 5]);
        var (h, inv) = Problem(n, 31, layout);
        var w = Oracle.RandomVector(new Random(32), n);
        int[] q = [0, 3, 4, 7, 10];
        var mask = Oracle.Mask(n, q);

        var expected = Oracle.ConstrainedStep(h, n, new double[n], w, q);
        var updated = (double[])w.Clone();
        ObsWeightUpdate.Apply(UpdateMode.Joint, inv, updated, mask);
        for (var i = 0; i < n; i++)
        {
            Assert.That(updated[i], Is.EqualTo(w[i] + expected[i]).Within(Tol), $"i = {i}");
        }
    }

    [Test]
    public void IndependentUpdate_EqualsSumOfSingleUpdates_ThenZeroes()
    {
        const int n = 9;
        var (_, inv) = Problem(n, 41);
        var w = Oracle.RandomVector(new Random(42), n);
        int[] q = [0, 2, 6];
        var expected = (double[])w.Clone();
        var block = inv.Block(0);
        foreach (var p in q)
        {
            for (var i = 0; i < n; i++)
            {
                expected[i] -= w[p] * block[(i * n) + p] / block[(p * n) + p];
            }
        }

        foreach (var p in q)
        {
            expected[p] = 0;
        }

        var mask = Oracle.Mask(n, q);

        var updated = (double[])w.Clone();
        ObsWeightUpdate.Apply(UpdateMode.Independent, inv, updated, mask);
        Assert.That(Oracle.MaxAbsDiff(updated, expected), Is.LessThan(Tol));
    }

    [Test]
    public void NoneUpdate_OnlyZeroesPrunedWeights()
    {
        const int n = 5;
        var (_, inv) = Problem(n, 51);
        double[] w = [1, 2, 3, 4, 5];
        ObsWeightUpdate.Apply(UpdateMode.None, inv, w, [true, false, true, true, false]);
        Assert.That(w, Is.EqualTo(new double[] { 1, 0, 3, 4, 0 }));
    }

    [Test]
    public void WoodTaylorDelta_MatchesQuadraticModel_AtNonOptimalPoint()
    {
        const int n = 8;
        var (h, inv) = Problem(n, 61);
        var rng = new Random(62);
        var wStar = Oracle.RandomVector(rng, n);
        var w = Oracle.RandomVector(rng, n);
        var r = new double[n];
        for (var i = 0; i < n; i++)
        {
            r[i] = w[i] - wStar[i];
        }

        var g = Oracle.MatVec(h, n, r);
        var hg = inv.Multiply(g);
        var rho = WoodTaylorScore.Compute(w, g, inv);
        var shared = WoodTaylorScore.SharedTerm(g, hg);
        var before = Oracle.Quadratic(h, w, wStar);
        for (var q = 0; q < n; q++)
        {
            var updated = (double[])w.Clone();
            var mask = Oracle.Mask(n, [q]);
            ObsWeightUpdate.Apply(UpdateMode.Joint, inv, updated, mask, hg);
            var kkt = Oracle.ConstrainedStep(h, n, g, w, [q]);
            Assert.Multiple(() =>
            {
                Assert.That(updated[q], Is.Zero);
                // The loss is exactly quadratic, so the model change Δ_q equals the true change.
                Assert.That(Oracle.Quadratic(h, updated, wStar) - before, Is.EqualTo(shared + rho[q]).Within(Tol), $"q = {q}");
                for (var i = 0; i < n; i++)
                {
                    Assert.That(updated[i], Is.EqualTo(w[i] + kkt[i]).Within(Tol));
                }
            });
        }
    }

    [Test]
    public void WoodTaylorJoint_SolvesConstrainedQuadraticWithGradient()
    {
        const int n = 10;
        var (h, inv) = Problem(n, 71);
        var rng = new Random(72);
        var w = Oracle.RandomVector(rng, n);
        var g = Oracle.RandomVector(rng, n);
        int[] q = [2, 3, 9];
        var mask = Oracle.Mask(n, q);

        var updated = (double[])w.Clone();
        ObsWeightUpdate.Apply(UpdateMode.Joint, inv, updated, mask, inv.Multiply(g));
        var kkt = Oracle.ConstrainedStep(h, n, g, w, q);
        for (var i = 0; i < n; i++)
        {
            Assert.That(updated[i], Is.EqualTo(w[i] + kkt[i]).Within(Tol), $"i = {i}");
        }
    }

    [Test]
    public void WoodTaylorScore_AtZeroGradient_EqualsObsScore()
    {
        const int n = 6;
        var (_, inv) = Problem(n, 81);
        var w = Oracle.RandomVector(new Random(82), n);
        Assert.That(Oracle.MaxAbsDiff(WoodTaylorScore.Compute(w, new double[n], inv), ObsScore.Compute(w, inv)), Is.LessThan(1e-14));
    }

    [Test]
    public void IdentityAndDiagonalUpdates_OnlyZeroPrunedWeights_AndScoresMatchDefinitions()
    {
        double[] w = [1, -2, 3, -4];
        bool[] mask = [false, true, true, false];
        var identity = new IdentityCurvature(4);
        var diag = new DiagonalFisherCurvature([1, 0, 3, 7], 1);
        var a = (double[])w.Clone();
        var b = (double[])w.Clone();
        ObsWeightUpdate.Apply(UpdateMode.Joint, identity, a, mask);
        ObsWeightUpdate.Apply(UpdateMode.Independent, diag, b, mask);
        Assert.Multiple(() =>
        {
            Assert.That(a, Is.EqualTo(new double[] { 0, -2, 3, 0 }));
            Assert.That(b, Is.EqualTo(new double[] { 0, -2, 3, 0 }));
            Assert.That(ObsScore.Compute(w, identity), Is.EqualTo(new[] { 0.5, 2, 4.5, 8 }));
            Assert.That(ObsScore.Compute(w, diag), Is.EqualTo(new[] { 1.0, 2, 18, 64 }).Within(1e-12));
            Assert.That(MagnitudeScore.Compute(w), Is.EqualTo(new double[] { 1, 2, 3, 4 }));
        });
    }

    [Test]
    public void DiagonalFisher_FromGradients_IsDampedMeanSquare()
    {
        float[] g = [1, 2, 3, -1, 0, 1];
        var src = new ArrayGradientSource(g, 3);
        var diag = DiagonalFisherCurvature.FromGradients(src, 0.5, chunkRows: 1);
        var stats = GradientStatistics.Compute(src);
        Assert.Multiple(() =>
        {
            Assert.That(diag.Diagonal(), Is.EqualTo(new[] { 1 / (0.5 + 1.0), 1 / (0.5 + 2.0), 1 / (0.5 + 5.0) }).Within(1e-15));
            Assert.That(stats.Rows, Is.EqualTo(2));
            Assert.That(stats.Mean, Is.EqualTo(new[] { 0.0, 1, 2 }).Within(1e-15));
        });
    }

    [Test]
    public void IndependentWoodTaylor_IsNewtonStepPlusSumOfSingleCorrections()
    {
        const int n = 7;
        var (_, inv) = Problem(n, 91);
        var rng = new Random(92);
        var w = Oracle.RandomVector(rng, n);
        var g = Oracle.RandomVector(rng, n);
        var hg = inv.Multiply(g);
        var block = inv.Block(0);
        int[] q = [1, 5];
        var expected = new double[n];
        for (var i = 0; i < n; i++)
        {
            expected[i] = w[i] - hg[i];
            foreach (var p in q)
            {
                expected[i] -= block[(i * n) + p] * (w[p] - hg[p]) / block[(p * n) + p];
            }
        }

        foreach (var p in q)
        {
            expected[p] = 0;
        }

        var updated = (double[])w.Clone();
        ObsWeightUpdate.Apply(UpdateMode.Independent, inv, updated, [true, false, true, true, true, false, true], hg);
        Assert.That(Oracle.MaxAbsDiff(updated, expected), Is.LessThan(Tol));
    }

    [Test]
    public void DiagonalEstimators_HaveUnitBlocks_AndValidateInputs()
    {
        var identity = new IdentityCurvature(3);
        var diag = new DiagonalFisherCurvature([1, 3], 1);
        Assert.Multiple(() =>
        {
            Assert.That(identity.Layout.Count, Is.EqualTo(3));
            Assert.That(identity.SubMatrix([2]), Is.EqualTo(new double[] { 1 }));
            Assert.That(diag.SubMatrix([1]), Is.EqualTo(new double[] { 0.25 }));
            Assert.That(() => diag.SubMatrix([0, 1]), Throws.ArgumentException);
            Assert.That(diag.Multiply([2, 2]), Is.EqualTo(new double[] { 1, 0.5 }));
            Assert.That(() => new DiagonalFisherCurvature([0, 1], 0), Throws.ArgumentException.With.Message.Contains("increase the damping"));
            Assert.That(() => new DiagonalFisherCurvature([1], -1), Throws.TypeOf<ArgumentOutOfRangeException>());
            Assert.That(() => identity.ObsUpdate(new double[2], new bool[3]), Throws.ArgumentException);
        });
    }
}
