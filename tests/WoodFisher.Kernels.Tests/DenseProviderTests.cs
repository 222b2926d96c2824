using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The dense provider against obviously correct float64 references (naive triple loops, substitution, Gauss–Jordan), on
/// every micro-kernel path this machine runs (the scalar one forced; AVX2 forced when AVX-512 is the default, and CI runs
/// the whole fixture again with <c>DOTNET_EnableAVX512=0</c>), with transposes, row strides wider than the rows, and sizes
/// that are not multiples of any tile (1, 7, 97, …). Tolerances: float64 sums of k products of O(1) terms round to
/// ≲ k·2⁻⁵³, so 1e-12·k; float32 to ≲ k·2⁻²⁴ ≈ 6e-8·k, so 1e-5·k leaves room for the FMA order.
/// </summary>
[TestFixture]
[NonParallelizable]
public class DenseProviderTests
{
    private static IEnumerable<SimdPath> Paths => SimdPaths.Available;

    private static double[] Random(int seed, int n)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => rng.NextDouble() - 0.5).ToArray();
    }

    private static float[] F(double[] x) => x.Select(v => (float)v).ToArray();

    /// <summary>C = α·op(A)·op(B) + β·C by the definition, in float64.</summary>
    private static double[] Naive(bool ta, bool tb, int m, int n, int k, double alpha, double[] a, int lda, double[] b, int ldb, double beta, double[] c, int ldc)
    {
        var r = (double[])c.Clone();
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < n; j++)
            {
                var s = 0.0;
                for (var p = 0; p < k; p++)
                {
                    s += (ta ? a[(p * lda) + i] : a[(i * lda) + p]) * (tb ? b[(j * ldb) + p] : b[(p * ldb) + j]);
                }

                r[(i * ldc) + j] = (alpha * s) + (beta == 0 ? 0 : beta * c[(i * ldc) + j]);
            }
        }

        return r;
    }

    private static IEnumerable<TestCaseData> Shapes()
    {
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 7, 7), (97, 33, 65), (13, 97, 300), (6, 2000, 25), (16, 150, 1500), (40, 20, 1100), (130, 70, 513) })
        {
            yield return new TestCaseData(m, n, k);
        }
    }

    [TestCaseSource(nameof(Shapes))]
    public void Multiply_AllTransposesStridesAndPaths_EqualNaiveProduct(int m, int n, int k)
    {
        foreach (var path in Paths)
        {
            using var _ = SimdPaths.Force(path);
            foreach (var (ta, tb) in new[] { (false, false), (true, false), (false, true), (true, true) })
            {
                // Stored shapes with 3 spare columns per row: the strides, not the shapes, locate the rows.
                int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 3, ldc = n + 3;
                var a = Random(1, (ta ? k : m) * lda);
                var b = Random(2, (tb ? n : k) * ldb);
                var c = Random(3, m * ldc);
                foreach (var parallel in new[] { false, true })
                {
                    foreach (var beta in new[] { 0.0, 0.25 })
                    {
                        var expect = Naive(ta, tb, m, n, k, -0.5, a, lda, b, ldb, beta, c, ldc);
                        var got = (double[])c.Clone();
                        if (beta == 0)
                        {
                            // β = 0: C is not read, so NaNs in it must not survive.
                            Array.Fill(got, double.NaN);
                        }

                        LinearAlgebra.Multiply(ta, tb, m, n, k, -0.5, a, lda, b, ldb, beta, got, ldc, parallel);
                        var gotF = F(beta == 0 ? got.Select(_ => double.NaN).ToArray() : c);
                        LinearAlgebra.Multiply(ta, tb, m, n, k, -0.5f, F(a), lda, F(b), ldb, (float)beta, gotF, ldc, parallel);
                        var what = $"{path} ta={ta} tb={tb} parallel={parallel} β={beta}";
                        AssertRows(expect, got, m, n, ldc, 1e-12 * k, what + " f64");
                        AssertRows(expect, gotF.Select(v => (double)v).ToArray(), m, n, ldc, 1e-5 * k, what + " f32");
                    }
                }
            }
        }
    }

    [Test]
    public void Multiply_ContiguousForm_AccumulatesOrOverwrites()
    {
        var a = Random(4, 5 * 3);
        var b = Random(5, 3 * 4);
        var c = Random(6, 5 * 4);
        var expect = Naive(false, false, 5, 4, 3, 1, a, 3, b, 4, 1, c, 4);
        var got = (double[])c.Clone();
        LinearAlgebra.Multiply<double>(false, false, 5, 4, 3, a, b, got, accumulate: true);
        AssertRows(expect, got, 5, 4, 4, 1e-14, "accumulate");
        LinearAlgebra.Multiply<double>(false, false, 5, 4, 3, a, b, got);
        AssertRows(Naive(false, false, 5, 4, 3, 1, a, 3, b, 4, 0, c, 4), got, 5, 4, 4, 1e-14, "overwrite");
    }

    [TestCase(1, 1)]
    [TestCase(7, 3)]
    [TestCase(97, 40)]
    [TestCase(130, 513)]
    public void SymmetricRankK_EqualsNaiveGram_AndIsExactlySymmetric(int n, int k)
    {
        foreach (var path in Paths)
        {
            using var _ = SimdPaths.Force(path);
            foreach (var transpose in new[] { false, true })
            {
                var lda = (transpose ? n : k) + 2;
                var ldc = n + 1;
                var a = Random(7, (transpose ? k : n) * lda);
                var c = Random(8, n * ldc);
                for (var i = 0; i < n; i++)
                {
                    for (var j = 0; j < i; j++)
                    {
                        c[(j * ldc) + i] = c[(i * ldc) + j];
                    }
                }

                var expect = Naive(transpose, !transpose, n, n, k, 2, a, lda, a, lda, 0.5, c, ldc);
                var got = (double[])c.Clone();
                LinearAlgebra.SymmetricRankK(transpose, n, k, 2.0, a, lda, 0.5, got, ldc);
                AssertRows(expect, got, n, n, ldc, 1e-12 * k, $"{path} transpose={transpose}");
                for (var i = 0; i < n; i++)
                {
                    for (var j = 0; j < i; j++)
                    {
                        Assert.That(got[(j * ldc) + i], Is.EqualTo(got[(i * ldc) + j]), $"symmetry ({i},{j})");
                    }
                }
            }
        }
    }

    [TestCase(1, 1)]
    [TestCase(7, 1)]
    [TestCase(97, 3)]
    [TestCase(200, 1)]
    [TestCase(200, 17)]
    public void SolveTriangular_SolvesLowerAndTransposedSystems(int n, int columns)
    {
        // A well-conditioned lower L: unit-scale off-diagonals over a dominant diagonal.
        var l = Random(9, n * n);
        for (var i = 0; i < n; i++)
        {
            l[(i * n) + i] = n + 1.0;
            for (var j = i + 1; j < n; j++)
            {
                l[(i * n) + j] = double.NaN; // never read
            }
        }

        var lower = l.Select(v => double.IsNaN(v) ? 0 : v).ToArray();
        var b = Random(10, n * columns);
        foreach (var path in Paths)
        {
            using var _ = SimdPaths.Force(path);
            foreach (var transpose in new[] { false, true })
            {
                var x = (double[])b.Clone();
                LinearAlgebra.SolveTriangular(l, n, x, columns, transpose);
                var back = Naive(transpose, false, n, columns, n, 1, lower, n, x, columns, 0, new double[n * columns], columns);
                AssertRows(b, back, n, columns, columns, 1e-12, $"{path} transpose={transpose} f64");
                var xf = F(b);
                LinearAlgebra.SolveTriangular(F(l), n, xf, columns, transpose);
                var backF = Naive(transpose, false, n, columns, n, 1, lower, n, xf.Select(v => (double)v).ToArray(), columns, 0, new double[n * columns], columns);
                AssertRows(b, backF, n, columns, columns, 1e-5, $"{path} transpose={transpose} f32");
            }
        }
    }

    [TestCase(1)]
    [TestCase(97)]
    [TestCase(200)]
    public void CholeskyInvert_EqualsGaussJordan_OnEveryPath(int n)
    {
        var g = Oracle.RandomGradients(n, n + 5, n);
        var a = Oracle.Fisher(g, n + 5, n, BlockLayout.Create(n, n), 0, 0.1, 1);
        var expect = Oracle.Inverse(a, n);
        foreach (var path in Paths)
        {
            using var _ = SimdPaths.Force(path);
            var inv = (double[])a.Clone();
            LinearAlgebra.CholeskyInvert(inv, n);
            Assert.That(Oracle.RelativeError(inv, expect), Is.LessThan(1e-10), path.ToString());
        }
    }

    [Test]
    public void Symmetrize_AveragesTheTwoTriangles()
    {
        var a = new double[] { 1, 2, 4, 3 };
        LinearAlgebra.Symmetrize(a, 2);
        Assert.That(a, Is.EqualTo(new double[] { 1, 3, 3, 3 }));
    }

    [TestCase(1, 1, 1)]
    [TestCase(6, 40, 25)]
    [TestCase(16, 150, 37)]
    [TestCase(7, 2000, 9)]
    public void Multiply_RowWindows_EqualsTheExplicitMatrix(int m, int n, int k)
    {
        // Overlapping windows of one buffer (as a convolution's taps are), against the same matrix copied out.
        var data = Random(11, n + (3 * k) + 5);
        var offsets = Enumerable.Range(0, k).Select(p => (p * 3) % (data.Length - n + 1)).ToArray();
        var explicitB = new double[k * n];
        for (var p = 0; p < k; p++)
        {
            Array.Copy(data, offsets[p], explicitB, p * n, n);
        }

        var a = Random(12, m * k);
        var c = Random(13, m * n);
        var expect = Naive(false, false, m, n, k, 1.5, a, k, explicitB, n, 1, c, n);
        foreach (var path in Paths)
        {
            using var _ = SimdPaths.Force(path);
            foreach (var parallel in new[] { false, true })
            {
                var got = (double[])c.Clone();
                LinearAlgebra.Multiply(m, 1.5, a, k, new RowWindows<double>(data, offsets, n), 1.0, got, n, parallel);
                AssertRows(expect, got, m, n, n, 1e-12 * k, $"{path} parallel={parallel}");
                var gotF = F(c);
                LinearAlgebra.Multiply(m, 1.5f, F(a), k, new RowWindows<float>(F(data), offsets, n), 1f, gotF, n, parallel);
                AssertRows(expect, gotF.Select(v => (double)v).ToArray(), m, n, n, 1e-5 * k, $"{path} parallel={parallel} f32");
            }
        }
    }

    [TestCase(1, 1, 1)]
    [TestCase(5, 7, 3)]
    [TestCase(6, 25, 3000)]
    [TestCase(16, 150, 196)]
    public void MultiplyTransposed_RowWindows_EqualsTheExplicitMatrix(int m, int n, int k)
    {
        var data = Random(14, k + (2 * n) + 3);
        var offsets = Enumerable.Range(0, n).Select(j => (j * 2) % (data.Length - k + 1)).ToArray();
        var explicitB = new double[n * k];
        for (var j = 0; j < n; j++)
        {
            Array.Copy(data, offsets[j], explicitB, j * k, k);
        }

        var a = Random(15, m * k);
        var c = Random(16, m * n);
        var expect = Naive(false, true, m, n, k, -1, a, k, explicitB, k, 0.5, c, n);
        foreach (var path in Paths)
        {
            using var _ = SimdPaths.Force(path);
            foreach (var parallel in new[] { false, true })
            {
                var got = (double[])c.Clone();
                LinearAlgebra.MultiplyTransposed(m, -1.0, a, k, new RowWindows<double>(data, offsets, k), 0.5, got, n, parallel);
                AssertRows(expect, got, m, n, n, 1e-12 * k, $"{path} parallel={parallel}");
            }
        }
    }

    [Test]
    public void BadShapes_AreRefusedNamingTheOperand()
    {
        var ex = Assert.Throws<ArgumentException>(() => LinearAlgebra.Multiply(false, false, 3, 3, 3, 1.0, new double[8], 3, new double[9], 3, 0.0, new double[9], 3));
        Assert.That(ex!.Message, Does.Contain("A is stored 3 × 3").And.Contain("needs 9 elements"));
        ex = Assert.Throws<ArgumentException>(() => LinearAlgebra.Multiply(false, true, 2, 2, 3, 1.0, new double[6], 3, new double[6], 2, 0.0, new double[4], 2));
        Assert.That(ex!.Message, Does.Contain("B is stored 2 × 3").And.Contain("row stride must be at least 3"));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new RowWindows<double>(new double[10], [0, 6], 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => SimdPaths.Force((SimdPath)99));
    }

    [Test]
    public void SimdOps_EqualScalarLoops_ForEveryLengthAndPath()
    {
        foreach (var path in Paths)
        {
            using var _ = SimdPaths.Force(path);
            for (var n = 0; n <= 70; n++)
            {
                var x = Random(17 + n, n);
                var y = Random(18 + n, n);
                var g = Random(19 + n, n);
                var dot = SimdOps.Dot<double>(x, y);
                Assert.That(dot, Is.EqualTo(x.Zip(y, (a, b) => a * b).Sum()).Within(1e-14 * (n + 1)), $"dot {path} n={n}");
                var axpy = (double[])y.Clone();
                SimdOps.Axpy<double>(0.5, x, axpy);
                Assert.That(axpy, Is.EqualTo(y.Zip(x, (b, a) => b + (0.5 * a)).ToArray()).Within(1e-15), $"axpy {path} n={n}");
                var row = (double[])y.Clone();
                var fused = SimdOps.AxpyThenDot<double>(row, 2.0, x, g);
                var expectRow = y.Zip(x, (b, a) => b - (2.0 * a)).ToArray();
                Assert.That(row, Is.EqualTo(expectRow).Within(1e-15), $"axpy-dot row {path} n={n}");
                Assert.That(fused, Is.EqualTo(expectRow.Zip(g, (a, b) => a * b).Sum()).Within(1e-14 * (n + 1)), $"axpy-dot {path} n={n}");
            }
        }
    }

    private static void AssertRows(double[] expect, double[] got, int rows, int cols, int ld, double tol, string what)
    {
        for (var i = 0; i < rows; i++)
        {
            for (var j = 0; j < cols; j++)
            {
                if (Math.Abs(got[(i * ld) + j] - expect[(i * ld) + j]) > tol)
                {
                    Assert.Fail($"{what}: ({i},{j}) is {got[(i * ld) + j]}, expected {expect[(i * ld) + j]} ± {tol}");
                }
            }

            for (var j = cols; j < ld && (i * ld) + j < got.Length; j++)
            {
                Assert.That(got[(i * ld) + j], Is.EqualTo(expect[(i * ld) + j]).Within(1e-6).Or.NaN, $"{what}: padding ({i},{j}) was written");
            }
        }
    }
}
