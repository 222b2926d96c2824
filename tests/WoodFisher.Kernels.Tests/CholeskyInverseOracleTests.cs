using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The SPD inverse (one signed rank-b update per swept block) against the float64 Gauss–Jordan inverse and the pivot
/// contract of the Cholesky factor, at orders around the swept block (64) on every SIMD path, float32 and float64.
/// </summary>
[TestFixture]
public class CholeskyInverseOracleTests
{
    /// <summary>
    /// ‖X − A⁻¹‖₁ ≤ (n + 2)·u·κ₁(A)·‖A⁻¹‖₁: X − A⁻¹ = A⁻¹(AX − I), and a backward-stable SPD inverse leaves ‖AX − I‖₁ within
    /// c_n·u·κ₁(A) (Higham, Accuracy and Stability, §14.3; the residual tests use the same (n + 2)). λ = 10⁻² gives κ ≈ 10³.
    /// The result is exactly symmetric.
    /// </summary>
    [Test]
    public void Invert_MatchesFloat64Oracle_OnEveryPath([Values(1, 63, 64, 65, 127, 128, 129, 400, 401)] int n)
    {
        var g = Oracle.RandomGradients(7 * n, n + 5, n);
        var a = Oracle.Fisher(g, n + 5, n, BlockLayout.Create(n, n), 0, 1e-2, n + 5);
        var oracle = Oracle.Inverse(a, n);
        var a32 = a.Select(v => (double)(float)v).ToArray();
        var oracle32 = Oracle.Inverse(a32, n);
        var kappa = Oracle.Norm1(a, n) * Oracle.Norm1(oracle, n);
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var x = (double[])a.Clone();
            Assert.That(LinearAlgebra.TryCholeskyInvert(x, n), Is.True, $"{path} float64");
            Assert.That(Distance(x, oracle, n), Is.LessThanOrEqualTo((n + 2) * Oracle.U64 * kappa * Oracle.Norm1(oracle, n)), $"{path} float64");
            Assert.That(IsSymmetric(x, n), $"{path} float64 symmetric");

            var f = a.Select(v => (float)v).ToArray();
            Assert.That(LinearAlgebra.TryCholeskyInvert(f, n), Is.True, $"{path} float32");
            var xf = f.Select(v => (double)v).ToArray();
            Assert.That(Distance(xf, oracle32, n), Is.LessThanOrEqualTo((n + 2) * Oracle.U32 * kappa * Oracle.Norm1(oracle32, n)), $"{path} float32");
            Assert.That(IsSymmetric(xf, n), $"{path} float32 symmetric");
        }
    }

    /// <summary>
    /// A dense SPD matrix with a_bb set to −1: the leading minors before b stay positive and the pivot at b (a_bb minus a
    /// nonnegative Schur term) is at most −1, so the factor fails there, in either precision. The
    /// inverse must fail at the same index as <see cref="LinearAlgebra.CholeskyFactor{T}"/> on every path.
    /// </summary>
    [Test]
    public void Invert_FailsAtTheFactorsPivot_OnEveryPath([Values(0, 63, 64, 65, 128, 300, 400)] int bad)
    {
        const int n = 401;
        var g = Oracle.RandomGradients(bad + 11, n + 5, n);
        var a = Oracle.Fisher(g, n + 5, n, BlockLayout.Create(n, n), 0, 1e-2, n + 5);
        a[(bad * n) + bad] = -1;
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            Assert.That(Assert.Throws<MatrixNotPositiveDefiniteException>(() => LinearAlgebra.CholeskyFactor((double[])a.Clone(), n))!.Pivot, Is.EqualTo(bad), $"{path} float64 factor");
            Assert.That(Assert.Throws<MatrixNotPositiveDefiniteException>(() => LinearAlgebra.CholeskyInvert((double[])a.Clone(), n))!.Pivot, Is.EqualTo(bad), $"{path} float64");
            var f = a.Select(v => (float)v).ToArray();
            Assert.That(Assert.Throws<MatrixNotPositiveDefiniteException>(() => LinearAlgebra.CholeskyInvert((float[])f.Clone(), n))!.Pivot, Is.EqualTo(bad), $"{path} float32");
            Assert.That(LinearAlgebra.TryCholeskyInvert(f, n), Is.False, $"{path} float32 try");
        }
    }

    /// <summary>A NaN anywhere in the lower triangle (off the diagonal too) makes the inverse fail, in either precision.</summary>
    [TestCase(130, 129, 0)]
    [TestCase(130, 70, 65)]
    [TestCase(130, 5, 3)]
    public void Invert_RefusesNaNBelowTheDiagonal(int n, int i, int j)
    {
        var g = Oracle.RandomGradients(n, n + 5, n);
        var a = Oracle.Fisher(g, n + 5, n, BlockLayout.Create(n, n), 0, 1e-2, n + 5);
        a[(i * n) + j] = double.NaN;
        Assert.That(LinearAlgebra.TryCholeskyInvert((double[])a.Clone(), n), Is.False, "float64");
        Assert.That(LinearAlgebra.TryCholeskyInvert(a.Select(v => (float)v).ToArray(), n), Is.False, "float32");
    }

    private static double Distance(double[] x, double[] y, int n) => Oracle.Norm1(x.Select((v, k) => v - y[k]).ToArray(), n);

    private static bool IsSymmetric(double[] x, int n)
    {
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (!x[(i * n) + j].Equals(x[(j * n) + i]))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
