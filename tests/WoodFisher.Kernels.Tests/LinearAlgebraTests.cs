using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

[TestFixture]
public class LinearAlgebraTests
{
    private static double[] Spd(int n, int seed)
    {
        var g = Oracle.RandomGradients(seed, n + 5, n);
        var layout = BlockLayout.Create(n, n);
        return Oracle.Fisher(g, n + 5, n, layout, 0, 0.1, 1);
    }

    [TestCase(1)]
    [TestCase(7)]
    [TestCase(50)]
    [TestCase(131)]
    [TestCase(300)]
    public void CholeskyInvert_EqualsGaussJordan(int n)
    {
        var a = Spd(n, n);
        var inv = (double[])a.Clone();
        LinearAlgebra.CholeskyInvert<double>(inv, n);
        Assert.That(Oracle.RelativeError(inv, Oracle.Inverse(a, n)), Is.LessThan(1e-10));

        var f = a.Select(x => (float)x).ToArray();
        Assert.That(LinearAlgebra.TryCholeskyInvert<float>(f, n), Is.True);
        Assert.That(Oracle.RelativeError(f.Select(x => (double)x).ToArray(), Oracle.Inverse(a, n)), Is.LessThan(1e-3));
    }

    [Test]
    public void CholeskyFactorAndSolve_ReproduceTheSystem()
    {
        const int n = 40;
        var a = Spd(n, 3);
        var l = (double[])a.Clone();
        LinearAlgebra.CholeskyFactor<double>(l, n);
        var llt = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < n; j++)
            {
                for (var k = 0; k < n; k++)
                {
                    llt[(i * n) + j] += l[(i * n) + k] * l[(j * n) + k];
                }
            }
        }

        Assert.That(Oracle.RelativeError(llt, a), Is.LessThan(1e-13));
        Assert.That(l[1], Is.EqualTo(0.0), "strict upper triangle is zeroed");

        var b = Oracle.RandomGradients(4, n, 3);
        var x = (double[])b.Clone();
        LinearAlgebra.CholeskySolve<double>(l, n, x, 3);
        for (var col = 0; col < 3; col++)
        {
            var bc = Enumerable.Range(0, n).Select(i => b[(i * 3) + col]).ToArray();
            var xc = Enumerable.Range(0, n).Select(i => x[(i * 3) + col]).ToArray();
            Assert.That(Oracle.RelativeError(xc, Oracle.Solve(a, n, bc)), Is.LessThan(1e-10));
        }
    }

    [Test]
    public void Cholesky_RejectsIndefiniteMatrix()
    {
        double[] a = [1, 2, 2, 1];
        Assert.That(LinearAlgebra.TryCholeskyFactor<double>((double[])a.Clone(), 2), Is.False);
        var ex = Assert.Throws<MatrixNotPositiveDefiniteException>(() => LinearAlgebra.CholeskyFactor<double>(a, 2));
        Assert.That(ex!.Pivot, Is.EqualTo(1));
    }

    [Test]
    public void BlockedCholesky_ReportsTheFailingPivot()
    {
        const int n = 200;
        var a = new double[n * n];
        for (var i = 0; i < n; i++)
        {
            a[(i * n) + i] = i == 150 ? -1 : 1;
        }

        var ex = Assert.Throws<MatrixNotPositiveDefiniteException>(() => LinearAlgebra.CholeskyFactor(a, n));
        Assert.That(ex!.Pivot, Is.EqualTo(150));
    }

    [Test]
    public void NonGenericOverloads_AcceptArrays()
    {
        double[] a = [4, 2, 2, 3];
        LinearAlgebra.CholeskyInvert(a, 2);
        Assert.That(a, Is.EqualTo(new[] { 0.375, -0.25, -0.25, 0.5 }).Within(1e-15));
        float[] f = [4, 2, 2, 3];
        LinearAlgebra.CholeskyFactor(f, 2);
        float[] x = [6, 5];
        LinearAlgebra.CholeskySolve(f, 2, x);
        Assert.That(x, Is.EqualTo(new[] { 1f, 1f }).Within(1e-6f));
    }

    private static IEnumerable<TestCaseData> GemmShapes()
    {
        yield return new TestCaseData(1, 1, 1, false);
        yield return new TestCaseData(7, 33, 5, false);
        yield return new TestCaseData(97, 70, 300, false);
        yield return new TestCaseData(200, 200, 64, true);
        yield return new TestCaseData(130, 130, 513, true);
    }

    [TestCaseSource(nameof(GemmShapes))]
    public void Gemm_EqualsNaiveProduct(int m, int n, int k, bool lowerOnly)
    {
        var a = Oracle.RandomGradients(5, m, k);
        var bt = Oracle.RandomGradients(6, n, k);
        var c = Oracle.RandomGradients(7, m, n);
        var expect = (double[])c.Clone();
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var s = 0.0;
                for (var p = 0; p < k; p++)
                {
                    s += a[(i * k) + p] * bt[(j * k) + p];
                }

                expect[(i * n) + j] -= 0.5 * s;
            }
        }

        foreach (var parallel in new[] { false, true })
        {
            var got = (double[])c.Clone();
            Gemm.Multiply(m, n, k, -0.5, StridedMatrix<double>.RowMajor(a, 0, k), StridedMatrix<double>.Transposed(bt, 0, k), got, 0, n, lowerOnly, parallel);
            var gotF = c.Select(x => (float)x).ToArray();
            Gemm.Multiply(m, n, k, -0.5f, StridedMatrix<float>.RowMajor(a.Select(x => (float)x).ToArray(), 0, k), StridedMatrix<float>.Transposed(bt.Select(x => (float)x).ToArray(), 0, k), gotF, 0, n, lowerOnly, parallel);
            for (var i = 0; i < m; i++)
            {
                for (var j = 0; j < (lowerOnly ? Math.Min(i + 1, n) : n); j++)
                {
                    Assert.That(got[(i * n) + j], Is.EqualTo(expect[(i * n) + j]).Within(1e-12 * k), $"f64 ({i},{j}) parallel={parallel}");
                    Assert.That(gotF[(i * n) + j], Is.EqualTo(expect[(i * n) + j]).Within(1e-5 * k), $"f32 ({i},{j}) parallel={parallel}");
                }
            }
        }
    }

    [TestCase(5, 37)]
    [TestCase(24, 300)]
    [TestCase(128, 520)]
    public void Gemm_SymmetricLowerView_EqualsFullSymmetricOperand(int m, int n)
    {
        // B = Bᵀ stored with garbage above the diagonal: the view must read only the lower triangle. Both runs sum the
        // same products in the same order, so the results agree exactly.
        var a = Oracle.RandomGradients(8, m, n).Select(x => (float)x).ToArray();
        var full = Oracle.RandomGradients(9, n, n).Select(x => (float)x).ToArray();
        var lower = (float[])full.Clone();
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < i; j++)
            {
                full[(j * n) + i] = full[(i * n) + j];
                lower[(j * n) + i] = float.NaN;
            }
        }

        foreach (var parallel in new[] { false, true })
        {
            var expect = new float[m * n];
            var got = new float[m * n];
            Gemm.Multiply(m, n, n, 1f, StridedMatrix<float>.RowMajor(a, 0, n), StridedMatrix<float>.RowMajor(full, 0, n), expect, 0, n, parallel: parallel);
            Gemm.Multiply(m, n, n, 1f, StridedMatrix<float>.RowMajor(a, 0, n), StridedMatrix<float>.SymmetricLower(lower, 0, n), got, 0, n, parallel: parallel);
            Assert.That(got, Is.EqualTo(expect), $"parallel={parallel}");
        }
    }

    [TestCase(1)]
    [TestCase(8)]
    [TestCase(13)]
    [TestCase(64)]
    [TestCase(131)]
    public void MirrorLower_CopiesLowerOntoUpper(int n)
    {
        var f = Oracle.RandomGradients(10, n, n).Select(x => (float)x).ToArray();
        var d = Oracle.RandomGradients(10, n, n);
        Gemm.MirrorLower<float>(f, n);
        Gemm.MirrorLower<double>(d, n);
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                Assert.That(f[(j * n) + i], Is.EqualTo(f[(i * n) + j]), $"f32 ({i},{j})");
                Assert.That(d[(j * n) + i], Is.EqualTo(d[(i * n) + j]), $"f64 ({i},{j})");
            }
        }

        var orig = Oracle.RandomGradients(10, n, n);
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j <= i; j++)
            {
                Assert.That(d[(i * n) + j], Is.EqualTo(orig[(i * n) + j]), $"lower ({i},{j}) unchanged");
            }
        }
    }
}
