using System.Globalization;

namespace WoodFisher.Kernels.Tests;

[TestFixture]
public class EigenTests
{
    // Householder + QL is backward stable: ‖A − VΛVᵀ‖ and ‖VᵀV − I‖ grow like a small multiple of n·ε·‖A‖
    // (ε ≈ 2.2e-16), so 1e-12·n·‖A‖ leaves two to three orders of magnitude of margin.
    private static double Tol(int n, double norm) => 1e-12 * n * Math.Max(norm, 1e-300);

    [Test]
    public void TwoByTwo_MatchesHandComputedSpectrum()
    {
        // [[2, 1], [1, 2]]: λ = 1 with (1, −1)/√2, λ = 3 with (1, 1)/√2.
        var (values, vectors) = Eigen([2, 1, 1, 2], 2);
        var h = 1 / Math.Sqrt(2);
        Assert.Multiple(() =>
        {
            Assert.That(values, Is.EqualTo(new[] { 1.0, 3.0 }).Within(1e-15));
            Assert.That(Math.Abs((vectors[0] * h) - (vectors[2] * h)), Is.EqualTo(1).Within(1e-15));
            Assert.That(Math.Abs((vectors[1] * h) + (vectors[3] * h)), Is.EqualTo(1).Within(1e-15));
        });
    }

    [Test]
    public void ThreeByThree_SecondDifference_MatchesClosedForm()
    {
        // The 1-D Laplacian tridiag(−1, 2, −1) of size 3 has λₖ = 2 − 2cos(kπ/4): 2 − √2, 2, 2 + √2; λ = 2 has (1, 0, −1)/√2.
        var (values, vectors) = Eigen([2, -1, 0, -1, 2, -1, 0, -1, 2], 3);
        Assert.Multiple(() =>
        {
            Assert.That(values, Is.EqualTo(new[] { 2 - Math.Sqrt(2), 2, 2 + Math.Sqrt(2) }).Within(1e-14));
            Assert.That(Math.Abs(vectors[1]), Is.EqualTo(1 / Math.Sqrt(2)).Within(1e-14));
            Assert.That(vectors[4], Is.EqualTo(0).Within(1e-14));
            Assert.That(vectors[7], Is.EqualTo(-vectors[1]).Within(1e-14));
        });
    }

    [TestCase(1)]
    [TestCase(2)]
    [TestCase(5)]
    [TestCase(50)]
    [TestCase(300)]
    public void RandomSymmetric_ReconstructsWithOrthonormalVectors(int n)
    {
        var a = RandomSymmetric(new Random(n), n);
        var (values, vectors) = Eigen(a, n);
        AssertDecomposition(a, n, values, vectors);
    }

    [Test]
    public void RepeatedEigenvalues_AreReproducedWithOrthonormalBasis()
    {
        const int n = 24;
        var mu = new double[n];
        for (var i = 0; i < n; i++)
        {
            mu[i] = i < 8 ? -1.5 : i < 20 ? 2 : 7;
        }

        var a = SpectralMatrices.FromSpectrum(SpectralMatrices.RandomOrthogonal(new Random(3), n), mu);
        var (values, vectors) = Eigen(a, n);
        Assert.That(values, Is.EqualTo(mu).Within(Tol(n, 7)));
        AssertDecomposition(a, n, values, vectors);
    }

    [Test]
    public void Indefinite_HasBothSignsAndReconstructs()
    {
        const int n = 40;
        var mu = Enumerable.Range(0, n).Select(i => (i - 19.5) * Math.Pow(10, (i % 5) - 2)).Order().ToArray();
        var a = SpectralMatrices.FromSpectrum(SpectralMatrices.RandomOrthogonal(new Random(4), n), mu);
        var (values, vectors) = Eigen(a, n);
        Assert.That(values, Is.EqualTo(mu).Within(Tol(n, MaxAbs(mu))));
        AssertDecomposition(a, n, values, vectors);
    }

    [Test]
    public void DiagonalInput_IsSortedExactly_WithUnitVectors()
    {
        double[] diag = [3, -1, 2, 0, 5, -4];
        var n = diag.Length;
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            a[(i * n) + i] = diag[i];
        }

        var (values, vectors) = Eigen(a, n);
        Assert.Multiple(() =>
        {
            Assert.That(values, Is.EqualTo(diag.Order().ToArray()));
            for (var j = 0; j < n; j++)
            {
                var src = Array.IndexOf(diag, values[j]);
                Assert.That(Math.Abs(vectors[(src * n) + j]), Is.EqualTo(1));
            }
        });
    }

    [Test]
    public void ZeroMatrix_GivesZeroSpectrumAndOrthonormalVectors()
    {
        const int n = 4;
        var a = new double[n * n];
        var (values, vectors) = Eigen(a, n);
        Assert.That(values, Is.All.EqualTo(0));
        AssertDecomposition(a, n, values, vectors);
    }

    [Test]
    public void OnlyLowerTriangle_IsRead()
    {
        const int n = 7;
        var a = RandomSymmetric(new Random(5), n);
        var garbled = (double[])a.Clone();
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                garbled[(i * n) + j] = double.NaN;
            }
        }

        Assert.That(Eigen(garbled, n).Values, Is.EqualTo(Eigen(a, n).Values));
    }

    [Test]
    public void EigenvaluesOnly_EqualFullDecomposition()
    {
        const int n = 60;
        var a = RandomSymmetric(new Random(6), n);
        var values = new double[n];
        LinearAlgebra.SymmetricEigenvalues(a, n, values);
        Assert.That(values, Is.EqualTo(Eigen(a, n).Values).Within(Tol(n, MaxAbs(a))));
    }

    [Test]
    public void BadScale_IsHandled_WithoutOverflow()
    {
        const int n = 10;
        foreach (var s in new[] { 1e-200, 1e200 })
        {
            var a = RandomSymmetric(new Random(8), n).Select(x => x * s).ToArray();
            var (values, vectors) = Eigen(a, n);
            AssertDecomposition(a, n, values, vectors);
        }
    }

    [TestCase(3)]
    [TestCase(150)]
    public void ReconstructFromEigen_GivesMatrixAndDampedInverse(int n)
    {
        var a = RandomSymmetric(new Random(11), n);
        var (values, vectors) = Eigen(a, n);
        var back = new double[n * n];
        LinearAlgebra.ReconstructFromEigen(vectors, values, n, back);

        // A + δI with δ = 1 − λmin is SPD with λmin = 1, so κ ≤ 1 + ‖A‖₂ and the inverse loses at most ~log₁₀κ digits.
        var shift = 1 - values[0];
        var damped = (double[])a.Clone();
        for (var i = 0; i < n; i++)
        {
            damped[(i * n) + i] += shift;
        }

        var inv = new double[n * n];
        LinearAlgebra.ReconstructFromEigen(vectors, values.Select(x => 1 / (x + shift)).ToArray(), n, inv);
        Assert.Multiple(() =>
        {
            Assert.That(back.Zip(a, (x, y) => Math.Abs(x - y)).Max(), Is.LessThanOrEqualTo(Tol(n, MaxAbs(a))));
            Assert.That(Oracle.RelativeError(inv, Oracle.Inverse(damped, n)), Is.LessThan(1e-10));
        });
    }

    [Test]
    public void AgreesWithCyclicJacobi()
    {
        const int n = 40;
        var a = RandomSymmetric(new Random(9), n);
        var (values, vectors) = Eigen(a, n);
        var (jValues, jVectors) = EigenReferences.Jacobi(a, n);
        var order = Enumerable.Range(0, n).OrderBy(i => jValues[i]).ToArray();
        Assert.Multiple(() =>
        {
            for (var j = 0; j < n; j++)
            {
                Assert.That(values[j], Is.EqualTo(jValues[order[j]]).Within(Tol(n, MaxAbs(a))));

                // Random spectra have gaps ≫ 1e-6, so each eigenvector is determined up to sign to ~1e-10.
                double dot = 0;
                for (var i = 0; i < n; i++)
                {
                    dot += vectors[(i * n) + j] * jVectors[(i * n) + order[j]];
                }

                Assert.That(Math.Abs(dot), Is.EqualTo(1).Within(1e-10), $"eigenvector {j}");
            }
        });
    }

    [Test]
    public void AgreesWithNumPyEigh()
    {
        const int n = 80;
        var a = RandomSymmetric(new Random(10), n);
        var dir = Directory.CreateTempSubdirectory("wf-eigh-");
        try
        {
            var input = Path.Combine(dir.FullName, "a.txt");
            File.WriteAllLines(input, Enumerable.Range(0, n).Select(i => string.Join(' ', a.Skip(i * n).Take(n).Select(x => x.ToString("R", CultureInfo.InvariantCulture)))));
            const string script = "import sys, numpy as np\n"
                + "a = np.loadtxt(sys.argv[1])\n"
                + "w, v = np.linalg.eigh(a)\n"
                + "np.savetxt(sys.argv[2], np.vstack([w[None, :], v]), fmt='%.17g')\n";
            var output = Path.Combine(dir.FullName, "wv.txt");
            if (!EigenReferences.RunPython(script, input, output))
            {
                Assert.Ignore("/usr/bin/python3 with numpy is not available.");
            }

            var rows = File.ReadAllLines(output).Select(l => l.Split(' ').Select(x => double.Parse(x, CultureInfo.InvariantCulture)).ToArray()).ToArray();
            var (values, vectors) = Eigen(a, n);
            Assert.Multiple(() =>
            {
                Assert.That(values, Is.EqualTo(rows[0]).Within(Tol(n, MaxAbs(a))));
                for (var j = 0; j < n; j++)
                {
                    double dot = 0;
                    for (var i = 0; i < n; i++)
                    {
                        dot += vectors[(i * n) + j] * rows[i + 1][j];
                    }

                    Assert.That(Math.Abs(dot), Is.EqualTo(1).Within(1e-10), $"eigenvector {j}");
                }
            });
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Test]
    public void NonFiniteInput_Throws()
    {
        var a = new double[] { 1, 0, double.PositiveInfinity, 1 };
        var ex = Assert.Throws<ArgumentException>(() => LinearAlgebra.SymmetricEigen(a, 2, new double[2], new double[4]));
        Assert.That(ex!.Message, Does.Contain("(1, 0)"));
        Assert.Throws<ArgumentException>(() => LinearAlgebra.SymmetricEigenvalues(new double[] { double.NaN }, 1, new double[1]));
    }

    [Test]
    public void WrongLengths_Throw()
    {
        Assert.Multiple(() =>
        {
            Assert.Throws<ArgumentException>(() => LinearAlgebra.SymmetricEigen(new double[4], 3, new double[3], new double[9]));
            Assert.Throws<ArgumentException>(() => LinearAlgebra.SymmetricEigen(new double[4], 2, new double[3], new double[4]));
            Assert.Throws<ArgumentException>(() => LinearAlgebra.SymmetricEigen(new double[4], 2, new double[2], new double[3]));
        });
    }

    private static (double[] Values, double[] Vectors) Eigen(double[] a, int n)
    {
        var values = new double[n];
        var vectors = new double[n * n];
        LinearAlgebra.SymmetricEigen(a, n, values, vectors);
        return (values, vectors);
    }

    private static void AssertDecomposition(double[] a, int n, double[] values, double[] vectors)
    {
        var norm = MaxAbs(a);
        double recon = 0, orth = 0;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                double r = 0, o = 0;
                for (var k = 0; k < n; k++)
                {
                    r += vectors[(i * n) + k] * values[k] * vectors[(j * n) + k];
                    o += vectors[(k * n) + i] * vectors[(k * n) + j];
                }

                recon = Math.Max(recon, Math.Abs(r - a[(i * n) + j]));
                orth = Math.Max(orth, Math.Abs(o - (i == j ? 1 : 0)));
            }
        }

        Assert.Multiple(() =>
        {
            Assert.That(recon, Is.LessThanOrEqualTo(Tol(n, norm)), "‖A − VΛVᵀ‖max");
            Assert.That(orth, Is.LessThanOrEqualTo(Tol(n, 1)), "‖VᵀV − I‖max");
            Assert.That(values, Is.Ordered);
        });
    }

    private static double MaxAbs(double[] a) => a.Length == 0 ? 0 : a.Max(Math.Abs);

    private static double[] RandomSymmetric(Random rng, int n)
    {
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                a[(i * n) + j] = a[(j * n) + i] = (2 * rng.NextDouble()) - 1;
            }
        }

        return a;
    }
}
