using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using System.Text;

namespace WoodFisher.Kernels;

/// <summary>One timed (strategy, backend, c, m, d) cell of <see cref="KernelBenchmark.Run"/>.</summary>
/// <param name="Backend">Backend name, e.g. "cpu-avx512".</param>
/// <param name="Strategy">The strategy timed.</param>
/// <param name="Precision">Storage precision.</param>
/// <param name="BlockSize">c.</param>
/// <param name="Rows">m, the gradient count.</param>
/// <param name="Dimension">d.</param>
/// <param name="Seconds">Best wall-clock time of the build (identity, updates or Gram + inversion).</param>
/// <param name="GFlops">Effective rate: the Woodbury flop count 4c²m per block divided by <paramref name="Seconds"/>, in 10⁹/s.</param>
/// <param name="SpeedupVsDense">Dense time over this strategy's time, measured in the same run (&gt; 1: faster than Dense).</param>
public sealed record KernelBenchmarkResult(
    string Backend, WoodburyStrategy Strategy, Precision Precision, int BlockSize, int Rows, int Dimension, double Seconds, double GFlops, double SpeedupVsDense)
{
    /// <summary>The strategy that ran: <see cref="Strategy"/>, or for Auto the one the cost model picked.</summary>
    public WoodburyStrategy Resolved { get; init; } = Strategy;
}

/// <summary>
/// Times WoodFisher strategies and backends over a grid of (c, m, d) and measures the machine's GEMM-class peak with the
/// library's own FMA micro-kernel. Wall-clock numbers on a shared machine are noisy: compare ratios from one run.
/// </summary>
public static class KernelBenchmark
{
    /// <summary>
    /// Peak rate in GFLOP/s of the packed 6 × 2W FMA micro-kernel on L1-resident panels, run on all cores at once:
    /// the sgemm-class ceiling (float32) or dgemm-class ceiling (float64) the kernels are measured against.
    /// </summary>
    public static double MeasurePeakGflops(Precision precision = Precision.Float32, double seconds = 0.3)
        => precision == Precision.Float32 ? Peak<float>(seconds) : Peak<double>(seconds);

    private static double Peak<T>(double seconds)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        const int kc = 256;
        var nr = Gemm.NR<T>();
        var threads = Environment.ProcessorCount;
        var flopsPerCall = 2.0 * Gemm.MR * nr * kc;
        var rates = new double[threads];
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
        {
            var a = new T[Gemm.MR * kc];
            var b = new T[nr * kc];
            var c = new T[Gemm.MR * nr];
            a.AsSpan().Fill(T.CreateTruncating(1e-3));
            b.AsSpan().Fill(T.CreateTruncating(1e-3));
            var total = Stopwatch.StartNew();
            var best = 0.0;

            // Best 64-call window: a shared machine interrupts some windows, never makes one faster than the hardware.
            while (total.Elapsed.TotalSeconds < seconds)
            {
                var window = Stopwatch.GetTimestamp();
                for (var i = 0; i < 64; i++)
                {
                    if (System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
                    {
                        Gemm.Kernel512<T>(a, b, kc, ref c[0], nr, T.One, Gemm.MR, nr);
                    }
                    else
                    {
                        Gemm.Kernel256<T>(a, b, kc, ref c[0], nr, T.One, Gemm.MR, nr);
                    }
                }

                var dt = Stopwatch.GetElapsedTime(window).TotalSeconds;
                best = Math.Max(best, 64 * flopsPerCall / dt);
            }

            rates[t] = best;
        });
        return rates.Sum() / 1e9;
    }

    /// <summary>
    /// Measures the efficiencies of <see cref="StrategyCostModel"/> (shares of the float32 peak) at
    /// <paramref name="blockSizes"/> on the CPU backend; about a second per size on two cores.
    /// </summary>
    /// <param name="blockSizes">Ascending block sizes (default 32, 64, 128, 256, 512, 1024).</param>
    /// <param name="repeats">Timed runs per kernel after one warm-up; the best counts.</param>
    /// <param name="progress">Receives one line per block size.</param>
    public static StrategyCostModel CalibrateCostModel(int[]? blockSizes = null, int repeats = 3, Action<string>? progress = null)
        => CostModelCalibration.Run(blockSizes ?? [32, 64, 128, 256, 512, 1024], repeats, progress);

    /// <summary>GFLOP/s (2mnk flops) of the library's blocked GEMM C += A·B on m × k times k × n, best of <paramref name="repeats"/>.</summary>
    public static double MeasureGemmGflops(int m, int n, int k, Precision precision = Precision.Float32, bool parallel = true, int repeats = 3)
        => precision == Precision.Float32 ? GemmRate<float>(m, n, k, parallel, repeats) : GemmRate<double>(m, n, k, parallel, repeats);

    private static double GemmRate<T>(int m, int n, int k, bool parallel, int repeats)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        var rng = new Random(7);
        var a = new T[m * k];
        var b = new T[k * n];
        var c = new T[m * n];
        for (var i = 0; i < a.Length; i++)
        {
            a[i] = T.CreateTruncating(rng.NextDouble());
        }

        for (var i = 0; i < b.Length; i++)
        {
            b[i] = T.CreateTruncating(rng.NextDouble());
        }

        var best = double.MaxValue;
        for (var r = 0; r <= repeats; r++)
        {
            var sw = Stopwatch.StartNew();
            Gemm.Multiply(m, n, k, T.One, StridedMatrix<T>.RowMajor(a, 0, k), StridedMatrix<T>.RowMajor(b, 0, n), c, 0, n, parallel: parallel);
            var t = sw.Elapsed.TotalSeconds;
            if (r > 0)
            {
                best = Math.Min(best, t);
            }
        }

        return 2.0 * m * n * k / best / 1e9;
    }

    /// <summary>m × d float32 gradients uniform in [−1, 1) from <paramref name="seed"/>.</summary>
    internal static float[] RandomRows(int seed, int m, int d)
    {
        var rng = new Random(seed);
        var g = new float[(long)m * d];
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = (float)((rng.NextDouble() * 2) - 1);
        }

        return g;
    }

    /// <summary>
    /// Runs every strategy on a small problem for about half a second, then waits for the runtime's background
    /// recompilation: .NET promotes a method to optimised (tier-1, profile-guided) code only after 30 calls and a 100 ms
    /// delay, so without this the first cells time partly unoptimised code (measured: the first dense cell of a grid 2.7×
    /// slower than the same cell repeated).
    /// </summary>
    private static void WarmUp(ICurvatureBackend backend, IReadOnlyList<WoodburyStrategy> strategies, Precision precision)
    {
        // On ILGPU's CPU accelerator every kernel launch costs about a millisecond, so a GPU-less ILGPU run warms up
        // on a tiny problem (its kernels are compiled once either way).
        var cpu = backend.Name.StartsWith("cpu", StringComparison.Ordinal);
        var (c, m, d) = cpu ? (256, 320, 512) : (16, 24, 32);
        var g = RandomRows(2, m, d);
        var clock = Stopwatch.StartNew();
        for (var round = 0; round < 40 && clock.ElapsedMilliseconds < 500; round++)
        {
            foreach (var s in strategies.Append(WoodburyStrategy.Dense))
            {
                var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-3, Strategy = s, Precision = precision };
                using var builder = new WoodFisherBuilder(d, options, m, backend);
                builder.Add(g, m);
                using var inv = builder.Build();
            }
        }

        Thread.Sleep(150);
    }

    /// <summary>
    /// Times every strategy in <paramref name="strategies"/> (Dense is always timed too, as the ratio's reference) for each
    /// (c, m, d) of <paramref name="grid"/> on random float32 gradients (seed 1), best of <paramref name="repeats"/> runs after
    /// one warm-up.
    /// </summary>
    public static IReadOnlyList<KernelBenchmarkResult> Run(
        IEnumerable<(int BlockSize, int Rows, int Dimension)> grid,
        IEnumerable<WoodburyStrategy> strategies,
        Precision precision = Precision.Float32,
        BackendKind backend = BackendKind.Cpu,
        int repeats = 3)
    {
        ArgumentNullException.ThrowIfNull(grid);
        ArgumentNullException.ThrowIfNull(strategies);
        var list = strategies.Where(s => s != WoodburyStrategy.Dense).Distinct().ToList();
        var results = new List<KernelBenchmarkResult>();
        using var be = Backends.Create(backend);
        WarmUp(be, list, precision);
        foreach (var (c, m, d) in grid)
        {
            var g = RandomRows(1, m, d);

            var flops = 0.0;
            var layout = BlockLayout.Create(d, c);
            for (var b = 0; b < layout.Count; b++)
            {
                flops += 4.0 * layout.Size(b) * layout.Size(b) * m;
            }

            var (dense, _) = Time(WoodburyStrategy.Dense);
            results.Add(new KernelBenchmarkResult(be.Name, WoodburyStrategy.Dense, precision, c, m, d, dense, flops / dense / 1e9, 1.0));
            foreach (var s in list)
            {
                var (t, resolved) = Time(s);
                results.Add(new KernelBenchmarkResult(be.Name, s, precision, c, m, d, t, flops / t / 1e9, dense / t) { Resolved = resolved });
            }

            (double Seconds, WoodburyStrategy Resolved) Time(WoodburyStrategy s)
            {
                var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-3, Strategy = s, Precision = precision };
                var best = double.MaxValue;
                var resolved = s;
                for (var r = 0; r <= repeats; r++)
                {
                    var sw = Stopwatch.StartNew();
                    using (var builder = new WoodFisherBuilder(d, options, m, be))
                    {
                        resolved = builder.Strategy;
                        builder.Add(g, m);
                        using var inv = builder.Build();
                    }

                    if (r > 0 || repeats == 0)
                    {
                        best = Math.Min(best, sw.Elapsed.TotalSeconds);
                    }
                }

                return (best, resolved);
            }
        }

        return results;
    }

    /// <summary>A Markdown table of <paramref name="results"/> with the peak in the caption.</summary>
    public static string FormatTable(IEnumerable<KernelBenchmarkResult> results, double peakGflops)
    {
        ArgumentNullException.ThrowIfNull(results);
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.AppendLine(inv, $"Micro-kernel peak: {peakGflops:F1} GFLOP/s ({Gemm.PathName}, {Environment.ProcessorCount} cores). GFLOP/s counts 4c²m per block.");
        sb.AppendLine();
        sb.AppendLine("| backend | strategy | precision | c | m | d | seconds | GFLOP/s | % peak | speed-up vs dense |");
        sb.AppendLine("|---|---|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            sb.AppendLine(inv, $"| {r.Backend} | {r.Strategy} | {r.Precision} | {r.BlockSize} | {r.Rows} | {r.Dimension} | {r.Seconds:F4} | {r.GFlops:F1} | {100 * r.GFlops / peakGflops:F0}% | {r.SpeedupVsDense:F2} |");
        }

        return sb.ToString();
    }
}
