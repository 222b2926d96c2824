using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels.Tests;

/// <summary>The fused vector loops of <see cref="SimdOps"/> on every SIMD path this machine runs.</summary>
[TestFixture]
public class SimdOpsTests
{
    private static readonly int[] Lengths = [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 32, 33, 400];

    /// <summary>a·x against the scalar product, bit for bit (one rounding each), at lengths around each register's width.</summary>
    [Test]
    public void Scale_IsTheScalarProduct_BitForBit_OnEveryPath()
    {
        var rng = new Random(12);
        OnEveryPathAndLength((path, n) =>
        {
            var x = Enumerable.Range(0, n).Select(_ => (rng.NextDouble() - 0.5) * 1e3).ToArray();
            var a = -1.0 / 3.0;
            var d = new double[n];
            SimdOps.Scale<double>(x, a, d);
            var xf = Array.ConvertAll(x, v => (float)v);
            var f = new float[n];
            SimdOps.Scale<float>(xf, (float)a, f);
            for (var i = 0; i < n; i++)
            {
                Assert.That(d[i], Is.EqualTo(x[i] * a), $"{path}, n = {n}, i = {i} (float64)");
                Assert.That(f[i], Is.EqualTo(xf[i] * (float)a), $"{path}, n = {n}, i = {i} (float32)");
            }
        });
    }

    /// <summary>
    /// Σ xᵢyᵢ of float32 x and float64 y, at lengths around each register's width (tails included), against the sum taken
    /// exactly in decimal (xᵢ = a/2¹², yᵢ = b/2²⁰ with small integers a, b: every product and partial sum is a decimal of at
    /// most 32 fraction bits). Bound: the standard dot-product bound, |fl(xᵀy) − xᵀy| ≤ γ_n·Σ|xᵢyᵢ| with
    /// γ_n = n·u₆₄/(1 − n·u₆₄), for any order of the float64 sums.
    /// </summary>
    [Test]
    public void DotWidened_MatchesExactSum_OnEveryPath()
    {
        var rng = new Random(11);
        OnEveryPathAndLength((path, n) =>
        {
            var x = new float[n];
            var y = new double[n];
            decimal exact = 0;
            var magnitude = 0.0;
            for (var i = 0; i < n; i++)
            {
                int a = rng.Next(-4096, 4096) + 1, b = rng.Next(-1 << 20, 1 << 20) + 1;
                x[i] = a / 4096f;
                y[i] = b / (double)(1 << 20);
                exact += a / 4096m * (b / 1048576m);
                magnitude += Math.Abs(x[i] * y[i]);
            }

            var gamma = n * Math.ScaleB(1.0, -53) / (1 - (n * Math.ScaleB(1.0, -53)));
            var got = SimdOps.DotWidened(x, y);
            Assert.That(Math.Abs(got - (double)exact), Is.LessThanOrEqualTo((gamma * magnitude) + double.Epsilon), $"path {path}, n = {n}");
        });
    }

    /// <summary>Runs <paramref name="check"/> on every SIMD path this machine runs, at each of <see cref="Lengths"/>.</summary>
    private static void OnEveryPathAndLength(Action<SimdPath, int> check)
    {
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            foreach (var n in Lengths)
            {
                check(path, n);
            }
        }
    }
}
