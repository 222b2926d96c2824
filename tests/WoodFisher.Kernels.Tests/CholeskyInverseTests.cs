using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>The SPD inverse (blocked sweep) against the float64 Gauss–Jordan oracle and its residual bound.</summary>
[TestFixture]
public class CholeskyInverseTests
{
    /// <summary>
    /// ‖AX − I‖₁ ≤ n·u·κ₁(A): a backward-stable SPD inverse leaves a residual of order c_n·u·κ(A) (Higham, Accuracy and
    /// Stability, §14.3); c_n = n is a loose linear constant, so the bound fails only for an unstable method. Sizes cover the
    /// leaf alone, uneven last blocks and several swept blocks; λ = 10⁻⁴ gives κ ≈ 10⁴–10⁵.
    /// </summary>
    [TestCase(16, 0.1)]
    [TestCase(33, 0.1)]
    [TestCase(130, 1e-4)]
    [TestCase(257, 0.1)]
    [TestCase(257, 1e-4)]
    public void Residual_WithinConditionTimesRoundoff(int n, double lambda)
    {
        var g = Oracle.RandomGradients(n + 1, n / 2, n);
        var a = Oracle.Fisher(g, n / 2, n, BlockLayout.Create(n, n), 0, lambda, n / 2);
        var oracle = Oracle.Inverse(a, n);
        var kappa = Oracle.Norm1(a, n) * Oracle.Norm1(oracle, n);

        var x = (double[])a.Clone();
        Assert.That(LinearAlgebra.TryCholeskyInvert(x, n), Is.True);
        Assert.That(Residual(a, x, n), Is.LessThanOrEqualTo(n * Oracle.U64 * kappa), "float64");

        var f = a.Select(v => (float)v).ToArray();
        Assert.That(LinearAlgebra.TryCholeskyInvert(f, n), Is.True);
        var xf = f.Select(v => (double)v).ToArray();
        Assert.That(Residual(a, xf, n), Is.LessThanOrEqualTo(n * Oracle.U32 * kappa), "float32");
        Assert.That(xf, Is.EqualTo(xf.Select((_, k) => xf[(k % n * n) + (k / n)])), "exactly symmetric");
    }

    /// <summary>
    /// The same residual bound on every SIMD path the machine runs (scalar, AVX2, AVX-512: the leaf and the GEMMs differ by
    /// path), for orders around the swept block (64) and the register widths (8, 16):
    /// a last block of 1–3 indices, n below one register. The constant is n + 2 rather than n: even a 1 × 1 inverse rounds
    /// three times (√a, 1/√a, its square).
    /// </summary>
    [TestCase(1)]
    [TestCase(2)]
    [TestCase(3)]
    [TestCase(5)]
    [TestCase(18)]
    [TestCase(63)]
    [TestCase(64)]
    [TestCase(65)]
    [TestCase(67)]
    [TestCase(131)]
    [TestCase(199)]
    public void Residual_WithinConditionTimesRoundoff_OnEveryPath(int n)
    {
        var g = Oracle.RandomGradients(3 * n, n + 3, n);
        var a = Oracle.Fisher(g, n + 3, n, BlockLayout.Create(n, n), 0, 1e-2, n + 3);
        var kappa = Oracle.Norm1(a, n) * Oracle.Norm1(Oracle.Inverse(a, n), n);
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var x = (double[])a.Clone();
            Assert.That(LinearAlgebra.TryCholeskyInvert(x, n), Is.True, $"{path} float64");
            Assert.That(Residual(a, x, n), Is.LessThanOrEqualTo((n + 2) * Oracle.U64 * kappa), $"{path} float64");

            var f = a.Select(v => (float)v).ToArray();
            Assert.That(LinearAlgebra.TryCholeskyInvert(f, n), Is.True, $"{path} float32");
            var xf = f.Select(v => (double)v).ToArray();
            Assert.That(Residual(a, xf, n), Is.LessThanOrEqualTo((n + 2) * Oracle.U32 * kappa), $"{path} float32");
            Assert.That(xf, Is.EqualTo(xf.Select((_, k) => xf[(k % n * n) + (k / n)])), $"{path} exactly symmetric");
        }
    }

    /// <summary>
    /// An indefinite matrix close to singular: GᵀG of rank n/2 minus 10⁻²·I has n/2 eigenvalues −10⁻² (about 10⁻⁴ of its
    /// norm, far above float32's backward error √n·u₃₂·‖A‖ ≈ 10⁻⁵·‖A‖) and the rest near 1 and above, so every inverse
    /// must refuse it (float32 and float64, every path); the upper triangle holds NaN, which must not be read.
    /// </summary>
    [TestCase(40)]
    [TestCase(150)]
    public void Invert_RefusesAnIndefiniteNearSingularMatrix(int n)
    {
        var g = Oracle.RandomGradients(n, n / 2, n);
        var a = Oracle.Fisher(g, n / 2, n, BlockLayout.Create(n, n), 0, -1e-2, 1);
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                a[(i * n) + j] = double.NaN;
            }
        }

        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            Assert.That(LinearAlgebra.TryCholeskyInvert((double[])a.Clone(), n), Is.False, $"{path} float64");
            Assert.That(LinearAlgebra.TryCholeskyInvert(a.Select(v => (float)v).ToArray(), n), Is.False, $"{path} float32");
        }
    }

    [TestCase(40, 30)]
    [TestCase(67, 65)]
    [TestCase(130, 66)]
    [TestCase(300, 17)]
    [TestCase(300, 250)]
    public void Invert_ReportsTheFailingPivot(int n, int bad)
    {
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            a[(i * n) + i] = i == bad ? -1 : 2;
        }

        Assert.That(LinearAlgebra.TryCholeskyInvert((double[])a.Clone(), n), Is.False);
        var ex = Assert.Throws<MatrixNotPositiveDefiniteException>(() => LinearAlgebra.CholeskyInvert(a, n));
        Assert.That(ex!.Pivot, Is.EqualTo(bad));
    }

    private static double Residual(double[] a, double[] x, int n)
    {
        var r = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var s = i == j ? -1.0 : 0.0;
                for (var k = 0; k < n; k++)
                {
                    s += a[(i * n) + k] * x[(k * n) + j];
                }

                r[(i * n) + j] = s;
            }
        }

        return Oracle.Norm1(r, n);
    }
}
