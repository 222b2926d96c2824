using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The GEMM's symmetric view of B (only the lower triangle stored, <see cref="StridedMatrix{T}.SymmetricLower"/>), which the
/// rank-k update reads F through, against the plain product with the mirrored matrix written out in full.
/// </summary>
[TestFixture]
public class GemmSymmetricViewTests
{
    /// <summary>
    /// A·B through the symmetric view equals A·B with B's upper triangle written out, bit for bit, on every SIMD path and
    /// for serial and parallel (column-split) products: the packed panel holds the same values either way, so every entry
    /// is the same FMA chain. The stored upper triangle is NaN, so any value read from it shows. The sizes put the diagonal
    /// inside, at the edge of, and past whole 8 × 8 transpose blocks and the packed depth KC.
    /// </summary>
    [Test]
    public void SymmetricView_EqualsExplicitMirror_BitForBit_OnEveryPath()
    {
        var failures = new List<string>();
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            foreach (var n in new[] { 1, 7, 37, 64, 300 })
            {
                foreach (var m in new[] { 1, 13, 96 })
                {
                    foreach (var parallel in new[] { false, true })
                    {
                        Check(path, m, n, parallel, failures);
                    }
                }
            }
        }

        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(20)));
    }

    private static void Check(SimdPath path, int m, int n, bool parallel, List<string> failures)
    {
        var seed = (m * 1000) + n;
        var a64 = Oracle.RandomGradients(seed, m, n);
        var full64 = Oracle.RandomGradients(seed + 1, n, n);
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                full64[(i * n) + j] = full64[(j * n) + i];
            }
        }

        var lower64 = (double[])full64.Clone();
        for (var i = 0; i < n; i++)
        {
            for (var j = i + 1; j < n; j++)
            {
                lower64[(i * n) + j] = double.NaN;
            }
        }

        Compare(path, "f64", m, n, parallel, a64, full64, lower64, failures);
        Compare(path, "f32", m, n, parallel, Array.ConvertAll(a64, x => (float)x), Array.ConvertAll(full64, x => (float)x), Array.ConvertAll(lower64, x => (float)x), failures);
    }

    private static void Compare<T>(SimdPath path, string what, int m, int n, bool parallel, T[] a, T[] full, T[] lower, List<string> failures)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var expect = new T[m * n];
        var got = new T[m * n];
        Gemm.Multiply(m, n, n, T.One, StridedMatrix<T>.RowMajor(a, 0, n), StridedMatrix<T>.RowMajor(full, 0, n), expect, 0, n, parallel: parallel);
        Gemm.Multiply(m, n, n, T.One, StridedMatrix<T>.RowMajor(a, 0, n), StridedMatrix<T>.SymmetricLower(lower, 0, n), got, 0, n, parallel: parallel);
        var bad = Enumerable.Range(0, m * n).FirstOrDefault(e => !got[e].Equals(expect[e]), -1);
        if (bad >= 0)
        {
            failures.Add($"{path} {what} m={m} n={n} parallel={parallel}: ({bad / n},{bad % n}) {got[bad]} != {expect[bad]}");
        }
    }
}
