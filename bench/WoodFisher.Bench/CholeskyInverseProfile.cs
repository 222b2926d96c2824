using System.Globalization;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// <c>-- cholinv-cpu [c …]</c>: the provider's Cholesky inverse of one SPD c × c matrix on one thread, float32 and float64,
/// in process CPU time (best of 7 rounds), as a share of the one-core peak of the same precision measured in the same run (run with
/// <c>DOTNET_PROCESSOR_COUNT=1</c>). Counted flops: c³ (factor c³/3, triangular inverse c³/3, L⁻ᵀL⁻¹ c³/3). Also the
/// Cholesky factor alone (float32 and float64, c³/3 flops counted; float64 on a copy into the same buffer each call, so
/// that neither allocation nor the collector is timed) and the float64 solve of one right-hand side with it.
/// </summary>
internal static class CholeskyInverseProfile
{
    public static void Run(string[] args)
    {
        var sizes = args.Length > 0 ? args.Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [256, 400, 512, 800];
        var peak32 = KernelBenchmark.MeasurePeakGflops(Precision.Float32) / Environment.ProcessorCount;
        var peak64 = KernelBenchmark.MeasurePeakGflops(Precision.Float64) / Environment.ProcessorCount;
        foreach (var g in new[] { 16, 32, 64, 128 })
        {
            var x = new float[g * g * 4];
            var y = new float[g * g * 4];
            var tg = Best(() => Gemm.Multiply(g, g, g, 1f, StridedMatrix<float>.RowMajor(x, 0, g), StridedMatrix<float>.RowMajor(x, 0, g), y, 0, g));
            var tt = Best(() => Gemm.Multiply(g, g, g, 1f, StridedMatrix<float>.Transposed(x, 0, g), StridedMatrix<float>.RowMajor(x, 0, g), y, 0, g));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"gemm {g}³: {tg * 1e6:F2} us, Aᵀ {tt * 1e6:F2} us, {2.0 * g * g * g / tg / 1e9 / peak32 * 100:F0}%"));
        }

        foreach (var c in sizes)
        {
            var spd = Spd(c);
            var f = Array.ConvertAll(spd, v => (float)v);
            var t64 = Best(() => LinearAlgebra.TryCholeskyInvert((double[])spd.Clone(), c));
            var t32 = Best(() => LinearAlgebra.TryCholeskyInvert((float[])f.Clone(), c));
            var l = (float[])f.Clone();
            LinearAlgebra.TryCholeskyFactor(l, c);
            var tf32 = Best(() => LinearAlgebra.TryCholeskyFactor((float[])f.Clone(), c));
            var tl32 = Best(() => LinearAlgebra.LowerTriangularInvert((float[])l.Clone(), c));
            var l64 = (double[])spd.Clone();
            LinearAlgebra.TryCholeskyFactor(l64, c);
            var work = new double[c * c];
            var tf64 = Best(() =>
            {
                spd.CopyTo(work, 0);
                LinearAlgebra.TryCholeskyFactor(work, c);
            });
            var rhs = new double[c];
            var ts64 = Best(() =>
            {
                Array.Fill(rhs, 1.0);
                LinearAlgebra.CholeskySolve(l64, c, rhs);
            });
            var flops = (double)c * c * c / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Gemm.PathName} c={c}: float32 {t32 * 1e3:F2} ms {100 * flops / t32 / peak32:F0}% of {peak32:F0}; float64 {t64 * 1e3:F2} ms {100 * flops / t64 / peak64:F0}% of {peak64:F0} GFLOP/s (one core, CPU time); float32 factor {tf32 * 1e3:F2} ms, triangular inverse {tl32 * 1e3:F2} ms"));
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{Gemm.PathName} c={c}: float64 factor {tf64 * 1e3:F2} ms, {flops / 3 / tf64:F1} GFLOP/s ({100 * flops / 3 / tf64 / peak64:F0}% of {peak64:F0}); float64 solve (one right-hand side) {ts64 * 1e3:F3} ms"));
        }
    }

    /// <summary>GᵀG/c + 0.1·I for G 2c × c uniform on [−1, 1] (seed 7).</summary>
    internal static double[] Spd(int c)
    {
        var rng = new Random(7);
        var g = new double[2 * c * c];
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = (rng.NextDouble() * 2) - 1;
        }

        var a = new double[c * c];
        LinearAlgebra.SymmetricRankK(true, c, 2 * c, 1.0 / c, g, c, 0.0, a, c, parallel: false);
        for (var i = 0; i < c; i++)
        {
            a[(i * c) + i] += 0.1;
        }

        return a;
    }

    private static double Best(Action a) => CpuTimeProfiles.BestCpuSeconds(a, 7);
}
