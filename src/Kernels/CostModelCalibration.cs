using System.Diagnostics;
using WoodFisher.Kernels.Cpu;

namespace WoodFisher.Kernels;

/// <summary>
/// Measures the efficiencies of <see cref="StrategyCostModel"/> on this machine: each kernel class timed on float32
/// random data over one block of size c per core (best of a few runs), its executed flops divided by time and by the float32
/// micro-kernel peak measured in the same run. Time is the process's CPU time divided by the core count: on a shared
/// machine the time spent waiting for a core is not the kernel's, and every kernel here keeps all cores busy.
/// </summary>
internal static class CostModelCalibration
{
    public static StrategyCostModel Run(int[] blockSizes, int repeats, Action<string>? progress)
    {
        var peak = KernelBenchmark.MeasurePeakGflops(Precision.Float32) * 1e9;
        var n = blockSizes.Length;
        double[] rank1 = new double[n], rankK = new double[n], gram32 = new double[n], gram64 = new double[n], inverse = new double[n];
        using var backend = new CpuBackend();
        for (var i = 0; i < n; i++)
        {
            var c = blockSizes[i];
            var blocks = Environment.ProcessorCount;
            var d = c * blocks;
            var m = Math.Max(64, 2 * c);
            var g = KernelBenchmark.RandomRows(4, m, d);
            var layout = BlockLayout.Create(d, c);

            rankK[i] = Efficiency(WoodburyStrategy.RankK, m, Build(WoodburyStrategy.RankK, m));
            var m1 = Math.Min(m, 128);
            rank1[i] = Efficiency(WoodburyStrategy.Rank1, m1, Build(WoodburyStrategy.Rank1, m1));
            var kept = KeptRows(g, m, c, blocks);
            gram32[i] = c * (double)c * m * blocks / Best(() => GramBlocks(kept, m, c, blocks)) / peak;
            var wide = Array.ConvertAll(g, x => (double)x);
            gram64[i] = c * (double)c * m * blocks / Best(() => new DenseStrategy(layout, Precision.Float64).Accumulate(wide, m)) / peak;
            inverse[i] = c * (double)c * c * blocks / Best(() => InvertBlocks(c, blocks)) / peak;
            progress?.Invoke($"c = {c}: rank1 {rank1[i]:F3} rankK {rankK[i]:F3} gram32 {gram32[i]:F3} gram64 {gram64[i]:F3} inverse {inverse[i]:F3} of peak");

            double Efficiency(WoodburyStrategy s, int rows, double seconds) => StrategyCostModel.Flops(s, c, rows).Updates * blocks / seconds / peak;

            double Build(WoodburyStrategy s, int rows) => Best(() =>
            {
                var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-3, Strategy = s, Precision = Precision.Float32 };
                using var builder = new WoodFisherBuilder(d, options, rows, backend);
                builder.Add(g.AsSpan(0, rows * d), rows);
                using var inv = builder.Build();
            });
        }

        return new StrategyCostModel(blockSizes, rank1, rankK, gram32, gram64, inverse);

        // CPU time ticks in 10 ms steps on Linux, longer than one run of the small kernels: each timing repeats its run
        // until at least 200 ms of CPU time have passed and divides by the count.
        double Best(Action run)
        {
            var best = double.MaxValue;
            using var process = Process.GetCurrentProcess();
            run();
            for (var r = 0; r < repeats; r++)
            {
                process.Refresh();
                var start = process.TotalProcessorTime;
                var count = 0;
                double spent;
                do
                {
                    run();
                    count++;
                    process.Refresh();
                    spent = (process.TotalProcessorTime - start).TotalSeconds;
                }
                while (spent < 0.2);

                best = Math.Min(best, spent / count / Environment.ProcessorCount);
            }

            return best;
        }
    }

    /// <summary>The rows block-major, as the Dense strategy keeps them: block b's m × c rows contiguous.</summary>
    private static float[] KeptRows(float[] g, int m, int c, int blocks)
    {
        var kept = new float[g.Length];
        for (var b = 0; b < blocks; b++)
        {
            for (var r = 0; r < m; r++)
            {
                Array.Copy(g, ((long)r * c * blocks) + (b * c), kept, ((long)b * m * c) + ((long)r * c), c);
            }
        }

        return kept;
    }

    /// <summary>Each block's float32-product Gram from all m kept rows, blocks in parallel as the Dense strategy forms them.</summary>
    private static void GramBlocks(float[] kept, int m, int c, int blocks)
        => BlockParallel.For(blocks, b => LinearAlgebra.SymmetricRankKMixed(true, c, m, kept.AsSpan(b * m * c, m * c), c, new double[c * c], c, parallel: false));

    /// <summary>
    /// Cholesky-inverts <paramref name="blocks"/> SPD c × c float32 matrices (the Dense strategy's inverse in float32
    /// storage), blocks in parallel as the Dense strategy does.
    /// </summary>
    private static void InvertBlocks(int c, int blocks)
    {
        BlockParallel.For(blocks, b =>
        {
            var a = new float[c * c];
            for (var i = 0; i < c; i++)
            {
                for (var j = 0; j <= i; j++)
                {
                    a[(i * c) + j] = 1f / (1 + i + j);
                }

                a[(i * c) + i] += c;
            }

            LinearAlgebra.TryCholeskyInvert<float>(a, c);
        });
    }
}
