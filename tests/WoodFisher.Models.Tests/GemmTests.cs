using WoodFisher.Models.Autograd;

namespace WoodFisher.Models.Tests;

public class GemmTests
{
    // Float64 sums of ≤ 70 products of O(1) terms: rounding ≲ 1e-13.
    [TestCase(false, false)]
    [TestCase(true, false)]
    [TestCase(false, true)]
    [TestCase(true, true)]
    public void Multiply_MatchesNaiveTripleLoop_AllTransposes(bool ta, bool tb)
    {
        var rng = new Random(3);
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 19, 5), (33, 70, 41), (64, 64, 300) })
        {
            var a = Enumerable.Range(0, m * k).Select(_ => rng.NextDouble() - 0.5).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => rng.NextDouble() - 0.5).ToArray();
            var c = Enumerable.Range(0, m * n).Select(_ => rng.NextDouble()).ToArray();
            var expected = (double[])c.Clone();
            for (var i = 0; i < m; i++)
                for (var j = 0; j < n; j++)
                    for (var p = 0; p < k; p++)
                        expected[i * n + j] += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]);
            Gemm.Multiply<double>(ta, tb, m, n, k, a, b, c, accumulate: true);
            Assert.That(c, Is.EqualTo(expected).Within(1e-12), $"{m}×{n}×{k}");
        }
    }

    [Test]
    public void Multiply_Float32_MatchesFloat64WithinRounding()
    {
        var rng = new Random(4);
        int m = 37, n = 45, k = 300;
        var a = Enumerable.Range(0, m * k).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var b = Enumerable.Range(0, k * n).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var c = new double[m * n];
        var cf = new float[m * n];
        Gemm.Multiply<double>(false, true, m, n, k, a, b, c);
        Gemm.Multiply<float>(false, true, m, n, k, a.Select(v => (float)v).ToArray(), b.Select(v => (float)v).ToArray(), cf);
        // float32: ≈ √k·2⁻²⁴·|terms| ≲ 1e-5.
        Assert.That(cf.Select(v => (double)v).ToArray(), Is.EqualTo(c).Within(1e-4));
    }
}
