using WoodFisher.Kernels;

namespace WoodFisher.Pruning.Tests;

public class DenseCurvatureTests
{
    // Well-conditioned 6–12 dimensional problems: float64 round-off stays near 1e-13; 1e-10 leaves margin.
    private const double Tol = 1e-10;

    [Test]
    public void DampedInverse_EqualsBruteForceInverse_Float64()
    {
        var rng = new Random(2);
        const int n = 10;
        var h = Oracle.RandomSpd(rng, n);
        const double lambda = 0.1;
        var damped = (double[])h.Clone();
        for (var i = 0; i < n; i++)
        {
            damped[(i * n) + i] += lambda;
        }

        var expected = Oracle.Inverse(damped, n);
        var dense = new DenseCurvature(h, n, lambda);
        Assert.Multiple(() =>
        {
            Assert.That(Oracle.MaxAbsDiff(dense.Block(0), expected), Is.LessThan(Tol));
            Assert.That(dense.Spectrum.NegativeEigenvalues, Is.Zero);
            var v = Oracle.RandomVector(rng, n);
            Assert.That(Oracle.MaxAbsDiff(dense.Multiply(v), Oracle.MatVec(expected, n, v)), Is.LessThan(Tol));
            var diag = dense.Diagonal();
            for (var i = 0; i < n; i++)
            {
                Assert.That(diag[i], Is.EqualTo(expected[(i * n) + i]).Within(Tol));
            }

            var sub = dense.SubMatrix([7, 2]);
            Assert.That(sub[1], Is.EqualTo(expected[(7 * n) + 2]).Within(Tol));
            Assert.That(sub[3], Is.EqualTo(expected[(2 * n) + 2]).Within(Tol));
        });
    }

    [Test]
    public void BlockLayout_InvertsDiagonalBlocksSeparately()
    {
        var rng = new Random(3);
        const int n = 7;
        var h = Oracle.RandomSpd(rng, n);
        var layout = BlockLayout.Create(n, 3);
        var dense = new DenseCurvature(h, n, 0.0, layout: layout);
        for (var b = 0; b < layout.Count; b++)
        {
            var off = layout.Offset(b);
            var c = layout.Size(b);
            var hb = new double[c * c];
            for (var i = 0; i < c; i++)
            {
                for (var j = 0; j < c; j++)
                {
                    hb[(i * c) + j] = h[((off + i) * n) + off + j];
                }
            }

            Assert.That(Oracle.MaxAbsDiff(dense.Block(b), Oracle.Inverse(hb, c)), Is.LessThan(Tol), $"block {b}");
        }

        Assert.That(() => dense.SubMatrix([2, 3]), Throws.ArgumentException);
    }

    [Test]
    public void FromGradients_EqualsInverseOfDampedEmpiricalFisher()
    {
        var rng = new Random(4);
        const int n = 6;
        const int m = 4;
        var g = Oracle.RandomVector(rng, m * n);
        const double lambda = 0.05;
        var f = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                for (var r = 0; r < m; r++)
                {
                    f[(i * n) + j] += g[(r * n) + i] * g[(r * n) + j] / m;
                }

                f[(i * n) + j] += i == j ? lambda : 0;
            }
        }

        var dense = DenseCurvature.FromGradients(g, m, n, lambda);
        Assert.That(Oracle.MaxAbsDiff(dense.Block(0), Oracle.Inverse(f, n)), Is.LessThan(1e-9));
    }

    [Test]
    public void IndefiniteHessian_ReportsSpectrum_AndTreatmentsMatchDefinitions()
    {
        var rng = new Random(5);
        const int n = 5;
        var q = SpectralMatrices.RandomOrthogonal(rng, n);
        double[] mu = [-2.0, -0.5, 0.25, 1.0, 3.0];
        var h = SpectralMatrices.FromSpectrum(q, mu);
        const double lambda = 0.1;

        Assert.That(() => new DenseCurvature(h, n, lambda), Throws.TypeOf<CurvatureNotPositiveDefiniteException>()
            .With.Property(nameof(CurvatureNotPositiveDefiniteException.MinEigenvalue)).EqualTo(-2.0).Within(1e-10));

        var clip = new DenseCurvature(h, n, lambda, IndefiniteTreatment.Clip);
        var abs = new DenseCurvature(h, n, lambda, IndefiniteTreatment.Absolute);
        var bigDamping = new DenseCurvature(h, n, 2.5);
        Assert.Multiple(() =>
        {
            Assert.That(clip.Spectrum.NegativeEigenvalues, Is.EqualTo(2));
            Assert.That(clip.Spectrum.MinEigenvalue, Is.EqualTo(-2.0).Within(1e-10));
            Assert.That(clip.Spectrum.MaxEigenvalue, Is.EqualTo(3.0).Within(1e-10));
            Assert.That(Oracle.MaxAbsDiff(clip.Block(0), SpectralMatrices.FromSpectrum(q, [.. mu.Select(x => 1 / (Math.Max(x, 0) + lambda))])), Is.LessThan(Tol));
            Assert.That(Oracle.MaxAbsDiff(abs.Block(0), SpectralMatrices.FromSpectrum(q, [.. mu.Select(x => 1 / (Math.Abs(x) + lambda))])), Is.LessThan(Tol));
            Assert.That(Oracle.MaxAbsDiff(bigDamping.Block(0), SpectralMatrices.FromSpectrum(q, [.. mu.Select(x => 1 / (x + 2.5))])), Is.LessThan(Tol));
            Assert.That(bigDamping.Spectrum.NegativeEigenvalues, Is.EqualTo(2));
        });
    }

    [Test]
    public void Spectrum_SeparatesNegativeEigenvaluesFromRoundingNoise()
    {
        // μ = −1e-9 is within 1e-6·max|μ| = 3e-6 of zero (float32 HVP noise); μ = −0.5 is not.
        var rng = new Random(7);
        const int n = 4;
        var q = SpectralMatrices.RandomOrthogonal(rng, n);
        var h = SpectralMatrices.FromSpectrum(q, [-0.5, -1e-9, 1.0, 3.0]);
        var abs = new DenseCurvature(h, n, 1e-3, IndefiniteTreatment.Absolute);
        Assert.Multiple(() =>
        {
            Assert.That(abs.Spectrum.NegativeEigenvalues, Is.EqualTo(2));
            Assert.That(abs.Spectrum.NegativeBeyondNoise, Is.EqualTo(1));
        });
    }

    [Test]
    public void AsymmetricOrMisSizedMatrix_Throws()
    {
        double[] h = [1, 0.5, 0.4, 1];
        Assert.Multiple(() =>
        {
            Assert.That(() => new DenseCurvature(h, 2, 0.1), Throws.ArgumentException);
            Assert.That(() => new DenseCurvature([1, 0, 0], 2, 0.1), Throws.ArgumentException);
            Assert.That(() => new DenseCurvature([1, 0, 0, 1], 2, -1), Throws.TypeOf<ArgumentOutOfRangeException>());
        });
    }
}
