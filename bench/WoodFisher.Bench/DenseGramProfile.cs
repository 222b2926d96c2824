using System.Numerics.Tensors;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// One-core phase timings of the Dense strategy on one c × c block, in process CPU time (run with
/// <c>DOTNET_PROCESSOR_COUNT=1</c>): the float64 Gram GEMM (lower half) as a function of the panel height k (rows per
/// call), the float32 Gram for comparison, the mixed float32-product float64-sum Gram the strategy runs
/// (<see cref="LinearAlgebra.SymmetricRankKMixed{TSrc}"/>, all m rows at once), and the Cholesky inverse.
/// <c>dotnet run -c Release --project bench/WoodFisher.Bench -- dense-profile</c>.
/// </summary>
internal static class DenseGramProfile
{
    public static void Run(int c, int m, int reps)
    {
        var rng = new Random(5);
        var x = new double[m * c];
        for (var i = 0; i < x.Length; i++)
        {
            x[i] = (rng.NextDouble() * 2) - 1;
        }

        var xf = Array.ConvertAll(x, v => (float)v);
        foreach (var k in new[] { 32, 64, 128, 256, 512 })
        {
            var gram = new double[c * c];
            var t = Best(reps, () =>
            {
                for (var r0 = 0; r0 < m; r0 += k)
                {
                    var n = Math.Min(k, m - r0);
                    Gemm.Multiply(c, c, n, 1.0, StridedMatrix<double>.Transposed(x, r0 * c, c), StridedMatrix<double>.RowMajor(x, r0 * c, c), gram, 0, c, lowerOnly: true, parallel: false);
                }
            });
            var tf = Best(reps, () =>
            {
                var gf = new float[c * c];
                for (var r0 = 0; r0 < m; r0 += k)
                {
                    var n = Math.Min(k, m - r0);
                    Gemm.Multiply(c, c, n, 1f, StridedMatrix<float>.Transposed(xf, r0 * c, c), StridedMatrix<float>.RowMajor(xf, r0 * c, c), gf, 0, c, lowerOnly: true, parallel: false);
                }
            });
            var flops = (double)c * c * m;
            Console.WriteLine($"gram c={c} m={m} k={k}: f64 {t * 1e3:F2} ms ({flops / t / 1e9:F1} GFLOP/s), f32 {tf * 1e3:F2} ms ({flops / tf / 1e9:F1} GFLOP/s), one core, lower half");
        }

        var mixed = new double[c * c];
        var tm = Best(reps, () =>
        {
            Array.Clear(mixed);
            LinearAlgebra.SymmetricRankKMixed<float>(true, c, m, xf, c, mixed, c, parallel: false);
        });
        // Baseline in the same run: each panel's float32 Gram into a zeroed scratch, then its lower triangle widened and added.
        var part = new float[c * c];
        var wide = new double[c];
        var tp = Best(reps, () =>
        {
            Array.Clear(mixed);
            for (var r0 = 0; r0 < m; r0 += LinearAlgebra.MixedPanel)
            {
                var n = Math.Min(LinearAlgebra.MixedPanel, m - r0);
                Array.Clear(part);
                Gemm.Multiply(c, c, n, 1f, StridedMatrix<float>.Transposed(xf, r0 * c, c), StridedMatrix<float>.RowMajor(xf, r0 * c, c), part, 0, c, lowerOnly: true, parallel: false);
                for (var i = 0; i < c; i++)
                {
                    TensorPrimitives.ConvertChecked<float, double>(part.AsSpan(i * c, i + 1), wide.AsSpan(0, i + 1));
                    TensorPrimitives.Add(mixed.AsSpan(i * c, i + 1), wide.AsSpan(0, i + 1), mixed.AsSpan(i * c, i + 1));
                }
            }
        });
        Console.WriteLine($"gram c={c} m={m} mixed (float32 products, float64 sums per {LinearAlgebra.MixedPanel} rows): {tm * 1e3:F2} ms ({(double)c * c * m / tm / 1e9:F1} GFLOP/s), one core, lower half; "
            + $"two passes (panel Gram in float32, then widened): {tp * 1e3:F2} ms, {tp / tm:F2}× the time");

        var spd = new double[c * c];
        for (var i = 0; i < c; i++)
        {
            spd[(i * c) + i] = 2;
            for (var j = 0; j < i; j++)
            {
                spd[(i * c) + j] = spd[(j * c) + i] = 1.0 / (1 + i + j);
            }
        }

        var tinv = Best(reps, () => LinearAlgebra.TryCholeskyInvert((double[])spd.Clone(), c));
        var tfac = Best(reps, () => LinearAlgebra.TryCholeskyFactor<double>((double[])spd.Clone(), c));
        var l = (double[])spd.Clone();
        LinearAlgebra.TryCholeskyFactor<double>(l, c);
        var ttri = Best(reps, () => LinearAlgebra.LowerTriangularInvert<double>((double[])l.Clone(), c));
        Console.WriteLine($"cholesky-invert c={c}: f64 {tinv * 1e3:F2} ms ({(double)c * c * c / tinv / 1e9:F1} GFLOP/s counting c³); alone, the factor {tfac * 1e3:F2} ms and the triangular inverse {ttri * 1e3:F2} ms, one core");
    }

    private static double Best(int reps, Action a) => CpuTimeProfiles.BestCpuSeconds(a, reps);
}
