using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>The blocked Cholesky factor (leaf per diagonal block, GEMM panels) against its residual bound and pivot contract.</summary>
[TestFixture]
public class CholeskyFactorTests
{
    /// <summary>
    /// |LLᵀ − A|_ij ≤ 2(n + 1)·u·max_k a_kk on every SIMD path, both precisions. Cholesky is backward stable componentwise:
    /// LLᵀ = A + ΔA with |ΔA| ≤ γ_{n+1}|L||Lᵀ| (Higham, Accuracy and Stability, Thm 10.3), and (|L||Lᵀ|)_ij ≤ ‖l_i‖‖l_j‖ =
    /// √(a_ii·a_jj) by Cauchy–Schwarz, so |ΔA_ij| ≤ (n + 1)·u·max a_kk to first order. The factor 2 covers the off-diagonal
    /// panels, formed with the explicit inverse of each 64 × 64 diagonal factor (its error grows with κ(L_KK), about 10 here).
    /// Sizes cover the leaf alone (below one register up to 64), uneven last blocks of 1–3 indices, and several blocks.
    /// The strict upper triangle holds NaN on entry (it must not be read) and zero on return.
    /// </summary>
    [Test]
    public void Factor_ResidualWithinRoundoff_OnEveryPath([Values(1, 2, 3, 5, 17, 63, 64, 65, 67, 128, 131, 199, 300)] int n)
    {
        var g = Oracle.RandomGradients(5 * n, n + 3, n);
        var a = Oracle.Fisher(g, n + 3, n, BlockLayout.Create(n, n), 0, 1e-2, n + 3);
        var a32 = a.Select(v => (double)(float)v).ToArray();
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var l = WithNanAbove(a, n);
            Assert.That(LinearAlgebra.TryCholeskyFactor(l, n), Is.True, $"{path} float64");
            Assert.That(MaxResidual(a, l, n), Is.LessThanOrEqualTo(2 * (n + 1) * Oracle.U64 * MaxDiagonal(a, n)), $"{path} float64");
            Assert.That(UpperIsZero(l, n), $"{path} float64 upper triangle");

            var f = WithNanAbove(a, n).Select(v => (float)v).ToArray();
            Assert.That(LinearAlgebra.TryCholeskyFactor(f, n), Is.True, $"{path} float32");
            var lf = f.Select(v => (double)v).ToArray();
            Assert.That(MaxResidual(a32, lf, n), Is.LessThanOrEqualTo(2 * (n + 1) * Oracle.U32 * MaxDiagonal(a32, n)), $"{path} float32");
            Assert.That(UpperIsZero(lf, n), $"{path} float32 upper triangle");
        }
    }

    /// <summary>
    /// The solve with the factor against the float64 Gauss–Jordan oracle, on every path: a backward-stable factor and two
    /// triangular solves leave a forward error of order n·u·κ(A) (Higham §10.1); κ₁(A) is measured.
    /// </summary>
    [TestCase(7)]
    [TestCase(100)]
    [TestCase(257)]
    public void FactorAndSolve_WithinConditionTimesRoundoff_OnEveryPath(int n)
    {
        var g = Oracle.RandomGradients(n, n / 2, n);
        var a = Oracle.Fisher(g, n / 2, n, BlockLayout.Create(n, n), 0, 1e-3, n / 2);
        var kappa = Oracle.Norm1(a, n) * Oracle.Norm1(Oracle.Inverse(a, n), n);
        var rhs = Oracle.RandomGradients(n + 1, n, 1);
        var exact = Oracle.Solve(a, n, rhs);
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var l = (double[])a.Clone();
            LinearAlgebra.CholeskyFactor(l, n);
            var x = (double[])rhs.Clone();
            LinearAlgebra.CholeskySolve(l, n, x);
            Assert.That(Oracle.RelativeError(x, exact), Is.LessThanOrEqualTo(n * Oracle.U64 * kappa), $"{path} float64");

            var lf = a.Select(v => (float)v).ToArray();
            LinearAlgebra.CholeskyFactor(lf, n);
            var xf = rhs.Select(v => (float)v).ToArray();
            LinearAlgebra.CholeskySolve(lf, n, xf);
            Assert.That(Oracle.RelativeError(xf.Select(v => (double)v).ToArray(), exact), Is.LessThanOrEqualTo(n * Oracle.U32 * kappa), $"{path} float32");
        }
    }

    /// <summary>
    /// A = MMᵀ with M unit lower triangular (m_kk = 1, small random entries below), except that a_bad,bad is lowered by 2:
    /// every leading principal minor up to bad − 1 is that of MMᵀ (pivots exactly 1), and the Schur complement at index bad
    /// is −1. The factor must fail exactly there (the joint OBS update's jitter relies on a failure, and the exception names the pivot), with
    /// the pivot's value −1 up to rounding, on every path and in both precisions: first block, a block boundary, a later
    /// full block and the short last block (n = 150: blocks 0–63, 64–127, 128–149).
    /// </summary>
    [Test]
    public void Factor_FailsExactlyAtTheFirstNegativePivot([Values(0, 30, 63, 64, 100, 130, 149)] int bad)
    {
        const int n = 150;
        var m = new double[n * n];
        var rng = new Random(bad);
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                m[(i * n) + j] = (rng.NextDouble() - 0.5) / Math.Sqrt(n);
            }

            m[(i * n) + i] = 1;
        }

        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var s = 0.0;
                for (var k = 0; k <= j; k++)
                {
                    s += m[(i * n) + k] * m[(j * n) + k];
                }

                a[(i * n) + j] = a[(j * n) + i] = s;
            }
        }

        a[(bad * n) + bad] -= 2;
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            Assert.That(LinearAlgebra.TryCholeskyFactor((double[])a.Clone(), n), Is.False, $"{path} float64");
            var ex = Assert.Throws<MatrixNotPositiveDefiniteException>(() => LinearAlgebra.CholeskyFactor((double[])a.Clone(), n));
            Assert.That(ex!.Pivot, Is.EqualTo(bad), $"{path} float64");
            Assert.That(ex.PivotValue, Is.EqualTo(-1.0).Within(1e-10), $"{path} float64");

            var ex32 = Assert.Throws<MatrixNotPositiveDefiniteException>(() => LinearAlgebra.CholeskyFactor(a.Select(v => (float)v).ToArray(), n));
            Assert.That(ex32!.Pivot, Is.EqualTo(bad), $"{path} float32");
            Assert.That(ex32.PivotValue, Is.EqualTo(-1.0).Within(1e-3), $"{path} float32");
        }
    }

    /// <summary>A NaN in the lower triangle fails at the pivot of its row (its column's pivots before it are unaffected).</summary>
    [TestCase(10, 7, 3)]
    [TestCase(150, 140, 20)]
    [TestCase(150, 70, 66)]
    public void Factor_NaN_FailsAtItsRow(int n, int row, int column)
    {
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            a[(i * n) + i] = 2;
        }

        a[(row * n) + column] = double.NaN;
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var ex = Assert.Throws<MatrixNotPositiveDefiniteException>(() => LinearAlgebra.CholeskyFactor((double[])a.Clone(), n));
            Assert.That(ex!.Pivot, Is.EqualTo(row), $"{path}");
        }
    }

    private static double[] WithNanAbove(double[] a, int n)
    {
        var x = (double[])a.Clone();
        for (var i = 0; i < n; i++)
        {
            x.AsSpan((i * n) + i + 1, n - i - 1).Fill(double.NaN);
        }

        return x;
    }

    private static bool UpperIsZero(double[] l, int n)
    {
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                if (l[(i * n) + j] != 0)
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static double MaxDiagonal(double[] a, int n) => Enumerable.Range(0, n).Max(i => a[(i * n) + i]);

    /// <summary>max over i ≥ j of |(LLᵀ)_ij − a_ij|, with LLᵀ summed in float64.</summary>
    private static double MaxResidual(double[] a, double[] l, int n)
    {
        var worst = 0.0;
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                var s = -a[(i * n) + j];
                for (var k = 0; k <= j; k++)
                {
                    s += l[(i * n) + k] * l[(j * n) + k];
                }

                worst = Math.Max(worst, Math.Abs(s));
            }
        }

        return worst;
    }
}
