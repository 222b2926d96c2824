using WoodFisher.Kernels;

namespace WoodFisher.Kernels.Tests;

/// <summary>
/// The register tile (<see cref="Gemm.MR"/> × <see cref="Gemm.NR{T}"/>) at the edges of its shape, on every SIMD path:
/// m, n and k of 1, one below, at and one above the tile's rows, columns and the packed depth <see cref="Gemm.KC"/>, against
/// a float64 reference, and every path against the scalar path bit for bit.
/// </summary>
[TestFixture]
public class GemmTileEdgeTests
{
    private const double Alpha = -0.5;

    /// <summary>
    /// C + α·A·B (α = −0.5, so α times a sum is exact) for float64 and float32 operands, in full and lower-only products and
    /// the widened float32 → float64 product, within the forward error bound of a k-term FMA chain, |ĉ − c| ≤ γ_{k+2}·(|α|·Σ_p
    /// |a_ip b_pj| + |c_ij|) with γ_k = k·u/(1 − k·u) (u of the summing type): the sums of a tile run over at most KC terms
    /// in order, then one addition to C. C's row stride exceeds n, and its padding (and the upper triangle of a widened lower-only product)
    /// must keep its values. Every path gives the scalar path's bits: each entry is the same FMA chain in the same order.
    /// </summary>
    [Test]
    public void EdgeShapes_MatchFloat64Reference_AndScalarPathBitForBit()
    {
        var failures = new List<string>();
        var scalar = new Dictionary<string, double[]>();
        foreach (var path in SimdPaths.Available)
        {
            using var _ = SimdPaths.Force(path);
            var nr = Gemm.NR<float>();
            int[] ms = [1, Gemm.MR - 1, Gemm.MR, Gemm.MR + 1, (2 * Gemm.MR) + 1];
            int[] ns = [1, nr - 1, nr, nr + 1, (2 * nr) + 1];
            int[] ks = [1, 7, Gemm.KC - 1, Gemm.KC, Gemm.KC + 1];
            foreach (var m in ms.Distinct())
            {
                foreach (var n in ns.Where(x => x > 0).Distinct())
                {
                    foreach (var k in ks)
                    {
                        Check(path, m, n, k, failures, scalar);
                    }
                }
            }
        }

        Assert.That(failures, Is.Empty, string.Join("\n", failures.Take(20)));
    }

    private static void Check(SimdPath path, int m, int n, int k, List<string> failures, Dictionary<string, double[]> scalar)
    {
        var ldc = n + 3;
        var seed = (m * 1000) + (n * 10) + k;
        var a = Array.ConvertAll(Oracle.RandomGradients(seed, m, k), x => (double)(float)x);
        var b = Array.ConvertAll(Oracle.RandomGradients(seed + 1, k, n), x => (double)(float)x);
        var c0 = Array.ConvertAll(Oracle.RandomGradients(seed + 2, m, ldc), x => (double)(float)x);
        foreach (var lower in new[] { false, true })
        {
            var f64 = (double[])c0.Clone();
            Gemm.Multiply(m, n, k, Alpha, StridedMatrix<double>.RowMajor(a, 0, k), StridedMatrix<double>.RowMajor(b, 0, n), f64, 0, ldc, lower);
            var f32 = Array.ConvertAll(c0, x => (float)x);
            Gemm.Multiply(m, n, k, (float)Alpha, StridedMatrix<float>.RowMajor(Array.ConvertAll(a, x => (float)x), 0, k),
                StridedMatrix<float>.RowMajor(Array.ConvertAll(b, x => (float)x), 0, n), f32, 0, ldc, lower);
            Compare(path, $"f64 lower={lower}", m, n, k, ldc, lower, a, b, c0, Alpha, f64, Math.ScaleB(1.0, -53), upperKept: false, failures, scalar);
            Compare(path, $"f32 lower={lower}", m, n, k, ldc, lower, a, b, c0, Alpha, Array.ConvertAll(f32, x => (double)x), Math.ScaleB(1.0, -24), upperKept: false, failures, scalar);
        }

        foreach (var lower in new[] { false, true })
        {
            var wide = (double[])c0.Clone();
            unsafe
            {
                fixed (float* pa = Array.ConvertAll(a, x => (float)x), pb = Array.ConvertAll(b, x => (float)x))
                fixed (double* pc = wide)
                {
                    Gemm.MultiplyWidening(m, n, k, PinnedMatrix<float>.RowMajor(pa, k, false), PinnedMatrix<float>.RowMajor(pb, n, false), pc, ldc, lower, false);
                }
            }

            // The float32 sums of each packed panel (≤ KC terms), widened exactly, then float64 additions.
            Compare(path, $"widened lower={lower}", m, n, k, ldc, lower, a, b, c0, 1.0, wide, Math.ScaleB(1.0, -24), upperKept: lower, failures, scalar);
        }
    }

    private static void Compare(SimdPath path, string what, int m, int n, int k, int ldc, bool lower, double[] a, double[] b, double[] c0, double alpha,
        double[] got, double u, bool upperKept, List<string> failures, Dictionary<string, double[]> scalar)
    {
        // k + 2 roundings at most per entry (k products and sums, one addition to C per packed panel of ≤ KC), plus the float64
        // reference's own k roundings.
        static double Gamma(int terms, double unit) => terms * unit / (1 - (terms * unit));
        var gamma = Gamma(k + 2, u) + Gamma(k, Math.ScaleB(1.0, -53));
        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < ldc; j++)
            {
                var at = (i * ldc) + j;
                if (j >= n || (upperKept && j > i))
                {
                    if (got[at] != c0[at])
                    {
                        failures.Add($"{path} {what} m={m} n={n} k={k}: ({i},{j}) outside the product changed");
                    }

                    continue;
                }

                if (lower && j > i)
                {
                    continue;
                }

                double s = 0, abs = 0;
                for (var p = 0; p < k; p++)
                {
                    s += a[(i * k) + p] * b[(p * n) + j];
                    abs += Math.Abs(a[(i * k) + p] * b[(p * n) + j]);
                }

                var expect = c0[at] + (alpha * s);
                var bound = gamma * ((Math.Abs(alpha) * abs) + Math.Abs(c0[at])) * 1.01;
                if (Math.Abs(got[at] - expect) > bound)
                {
                    failures.Add($"{path} {what} m={m} n={n} k={k}: ({i},{j}) error {Math.Abs(got[at] - expect):E2} > bound {bound:E2}");
                }
            }
        }

        var key = $"{what} {m} {n} {k}";
        if (path == SimdPath.Scalar)
        {
            scalar[key] = got;
            return;
        }

        if (!scalar.TryGetValue(key, out var reference))
        {
            return;
        }

        for (var i = 0; i < m; i++)
        {
            for (var j = 0; j < (lower ? Math.Min(n, i + 1) : n); j++)
            {
                if (BitConverter.DoubleToInt64Bits(got[(i * ldc) + j]) != BitConverter.DoubleToInt64Bits(reference[(i * ldc) + j]))
                {
                    failures.Add($"{path} {what} m={m} n={n} k={k}: ({i},{j}) differs from the scalar path's bits");
                    return;
                }
            }
        }
    }
}
