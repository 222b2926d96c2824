using System.Globalization;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// <c>-- gemm-shapes [reps]</c>: GFLOP/s in process CPU time (<see cref="CpuTimeProfiles.BestCpuSeconds"/>; run with
/// <c>DOTNET_PROCESSOR_COUNT=1</c> for one core) of the register tile alone on L1-resident panels, and of the blocked GEMM
/// at the shapes of a rank-k panel (k = 96 gradients, c = 512 and 1024: U = GₖF, the lower F −= WWᵀ, the lower S = GₖU)
/// and at 512³, best of <c>reps</c> rounds.
/// </summary>
internal static class GemmShapesProfile
{
    public static void Run(string[] args)
    {
        var reps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 20;
        var inv = CultureInfo.InvariantCulture;
        (int M, int N, int K, bool Lower, bool TransA)[] shapes =
        [
            (96, 512, 512, false, false), (512, 512, 96, true, true), (96, 96, 512, true, false),
            (96, 1024, 1024, false, false), (1024, 1024, 96, true, true), (512, 512, 512, false, false),
        ];
        Console.WriteLine(string.Create(inv, $"{Gemm.PathName}: register tile on L1-resident panels (kc = 256) {TileRate(256):F1} GFLOP/s"));
        var line = Gemm.PathName + ":";
        foreach (var (m, n, k, lower, transA) in shapes)
        {
            var rng = new Random(5);
            var a = Enumerable.Range(0, m * k).Select(_ => (float)rng.NextDouble()).ToArray();
            var b = Enumerable.Range(0, k * n).Select(_ => (float)rng.NextDouble()).ToArray();
            var c = new float[m * n];
            var av = transA ? StridedMatrix<float>.Transposed(a, 0, m) : StridedMatrix<float>.RowMajor(a, 0, k);
            var best = CpuTimeProfiles.BestCpuSeconds(() => Gemm.Multiply(m, n, k, 1e-6f, av, StridedMatrix<float>.RowMajor(b, 0, n), c, 0, n, lowerOnly: lower), reps);
            var flops = 2.0 * m * n * k * (lower ? 0.5 : 1);
            line += string.Create(inv, $" {m}×{n}×{k}{(lower ? " lower" : "")} {flops / best / 1e9:F1} |");
        }

        Console.WriteLine(line + " GFLOP/s (CPU time)");
    }

    private static double TileRate(int kc)
    {
        var nr = Gemm.NR<float>();
        var a = Enumerable.Repeat(1e-3f, Gemm.MR * kc).ToArray();
        var b = Enumerable.Repeat(1e-3f, nr * kc).ToArray();
        var c = new float[Gemm.MR * nr];
        var seconds = CpuTimeProfiles.BestCpuSeconds(
            () =>
            {
                if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
                {
                    Gemm.Kernel512<float>(a, b, kc, ref c[0], nr, 1f, Gemm.MR, nr);
                }
                else
                {
                    Gemm.Kernel256<float>(a, b, kc, ref c[0], nr, 1f, Gemm.MR, nr);
                }
            },
            30);
        return 2.0 * Gemm.MR * nr * kc / seconds / 1e9;
    }
}
