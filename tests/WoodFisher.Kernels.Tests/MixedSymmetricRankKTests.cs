using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>The provider's mixed-precision SYRK against the float64 sum of the float32-rounded terms.</summary>
[TestFixture]
public class MixedSymmetricRankKTests
{
    private static readonly double U32 = Math.ScaleB(1.0, -24);

    // The stated bound: |Ĉ − C| ≤ γ_KC·Σ_r |a_ri a_rj| per entry (KC = MixedPanel; the float64 additions add ~1e-16 of it).
    // Both layouts of A, float32 and float64 sources (the latter rounded to float32 first), a C with row stride above n
    // whose upper triangle and padding must stay untouched, and k crossing two panel boundaries.
    [TestCase(true, 37, 600, false)]
    [TestCase(false, 37, 600, true)]
    [TestCase(true, 130, 300, true)]
    [TestCase(false, 5, 1, false)]
    public void EntriesAreWithinTheStatedBound(bool transpose, int n, int k, bool float64Source)
    {
        var lda = (transpose ? n : k) + 3;
        var rows = transpose ? k : n;
        var a = Array.ConvertAll(Oracle.RandomGradients(n + k, rows, lda), v => (double)(float)v);
        var ldc = n + 2;
        var c = Enumerable.Range(0, n * ldc).Select(i => 0.25 * (i % 7)).ToArray();
        var before = (double[])c.Clone();
        if (float64Source)
        {
            LinearAlgebra.SymmetricRankKMixed(transpose, n, k, a, lda, c, ldc);
        }
        else
        {
            LinearAlgebra.SymmetricRankKMixed(transpose, n, k, Array.ConvertAll(a, v => (float)v), lda, c, ldc);
        }

        double At(int i, int p) => transpose ? a[(p * lda) + i] : a[(i * lda) + p];
        var gamma = LinearAlgebra.MixedPanel * U32 / (1 - (LinearAlgebra.MixedPanel * U32));
        for (var i = 0; i < n; i++)
        {
            for (var j = 0; j < ldc; j++)
            {
                if (j > i)
                {
                    Assert.That(c[(i * ldc) + j], Is.EqualTo(before[(i * ldc) + j]), $"({i}, {j}) outside the lower triangle");
                    continue;
                }

                double exact = before[(i * ldc) + j], magnitude = 0;
                for (var p = 0; p < k; p++)
                {
                    exact += At(i, p) * At(j, p);
                    magnitude += Math.Abs(At(i, p) * At(j, p));
                }

                Assert.That(Math.Abs(c[(i * ldc) + j] - exact), Is.LessThanOrEqualTo((gamma * magnitude) + (1e-15 * Math.Abs(exact))), $"({i}, {j})");
            }
        }
    }

    // The widened micro-kernel tiles hold exactly the float32 sums a plain float32 GEMM of each panel of MixedPanel rows
    // computes (same products, same order), so the result must equal, bit for bit, that panel's float32 Gram added to C
    // in float64: on every SIMD path, with edge tiles (n = 45 = 7·6 + 3 rows, not a multiple of the tile width) and tiles
    // across the diagonal.
    [TestCase(true, 45, 700)]
    [TestCase(false, 45, 300)]
    [TestCase(true, 64, 256)]
    public void EqualsEachPanelsFloat32GramWidenedBitForBit(bool transpose, int n, int k)
    {
        var lda = (transpose ? n : k) + 1;
        var a = Array.ConvertAll(Oracle.RandomGradients(n * k, transpose ? k : n, lda), v => (float)v);
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var c = new double[n * n];
            LinearAlgebra.SymmetricRankKMixed(transpose, n, k, a, lda, c, n);
            var expected = new double[n * n];
            for (var p0 = 0; p0 < k; p0 += LinearAlgebra.MixedPanel)
            {
                var kc = Math.Min(LinearAlgebra.MixedPanel, k - p0);
                var part = new float[n * n];
                var view = transpose ? StridedMatrix<float>.Transposed(a, p0 * lda, lda) : StridedMatrix<float>.RowMajor(a, p0, lda);
                var viewT = transpose ? StridedMatrix<float>.RowMajor(a, p0 * lda, lda) : StridedMatrix<float>.Transposed(a, p0, lda);
                Gemm.Multiply(n, n, kc, 1f, view, viewT, part, 0, n);
                for (var i = 0; i < n; i++)
                {
                    for (var j = 0; j <= i; j++)
                    {
                        expected[(i * n) + j] += part[(i * n) + j];
                    }
                }
            }

            Assert.That(c, Is.EqualTo(expected), $"{path}");
        }
    }

    [Test]
    public void RejectsAShortOperand()
    {
        var ex = Assert.Throws<ArgumentException>(() => LinearAlgebra.SymmetricRankKMixed(true, 4, 3, new float[11], 4, new double[16], 4));
        Assert.That(ex!.Message, Does.Contain("needs 12 elements"));
    }
}
