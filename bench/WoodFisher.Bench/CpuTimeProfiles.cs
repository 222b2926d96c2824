using System.Diagnostics;
using System.Globalization;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// Profiles timed in process CPU time divided by the cores in use, so that on a shared machine the time spent waiting for a
/// core is not counted (run with <c>DOTNET_PROCESSOR_COUNT=1</c> for one-core figures).
/// <c>-- rankk-cpu [c:m …]</c>: the CPU backend's rank-k update of one block (d = c), fresh and continued, as % of the peak
/// measured in the same run. <c>-- inverse-cpu G.npy c [segments] [λ] [strategies]</c>: the builder's <c>Add</c> and <c>Build</c>
/// for each strategy (auto,dense,rankk unless listed) on a gradient file (float32 .npy, m × d), its rows added one builder panel at a time.
/// </summary>
internal static class CpuTimeProfiles
{
    public static void RankK(string[] cells)
    {
        var peak = KernelBenchmark.MeasurePeakGflops();
        foreach (var (c, m) in (cells.Length > 0 ? cells : ["512:1024", "768:1024", "1024:1024"]).Select(Cell))
        {
            var g = new double[m * c];
            var rng = new Random(3);
            for (var i = 0; i < g.Length; i++)
            {
                g[i] = (rng.NextDouble() * 2) - 1;
            }

            using var backend = new CpuBackend();
            using var storage = backend.Allocate(BlockLayout.Create(c, c), Precision.Float32);
            double fresh = double.MaxValue, continued = double.MaxValue;
            for (var r = 0; r <= 7; r++)
            {
                backend.SetScaledIdentity(storage, 1e3);
                var t0 = CpuSeconds();
                backend.RankKUpdate(storage, g, m, 2 * m);
                var t1 = CpuSeconds();
                backend.RankKUpdate(storage, g, m, 2 * m);
                var t2 = CpuSeconds();
                if (r > 0)
                {
                    fresh = Math.Min(fresh, t1 - t0);
                    continued = Math.Min(continued, t2 - t1);
                }
            }

            var nominal = 4.0 * c * c * m / 1e9;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"cores={Environment.ProcessorCount} {Gemm.PathName} c={c} m={m}: fresh {100 * nominal / fresh / peak:F0}%, continued {100 * nominal / continued / peak:F0}% of peak {peak:F0} GFLOP/s (CPU time)"));
        }
    }

    public static void Inverse(string[] args)
    {
        var path = args[0];
        var c = int.Parse(args[1], CultureInfo.InvariantCulture);
        int[]? segments = args.Length > 2 && args[2] != "-" ? args[2].Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture)).ToArray() : null;
        var lambda = args.Length > 3 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 1e-5;
        var g = WoodFisher.IO.Npy.ReadFloat32(path);
        var (m, d) = ((int)g.Shape[0], (int)g.Shape[1]);
        var peak = KernelBenchmark.MeasurePeakGflops();
        // "factors" is the Dense strategy taking the rows whole as factors (AddFactors), as model mode gives a Linear
        // layer's per-sample gradients: here the factors are G itself, copied a panel at a time where model mode multiplies
        // them out.
        var strategies = args.Length > 4 ? args[4].Split(',') : ["auto", "dense", "rankk"];
        var layout = BlockLayout.Create(d, c, segments);
        var floorGflop = Enumerable.Range(0, layout.Count).Sum(b => ((double)layout.Size(b) * layout.Size(b) * m) + Math.Pow(layout.Size(b), 3)) / 1e9;
        foreach (var name in strategies)
        {
            var factored = name.Equals("factors", StringComparison.OrdinalIgnoreCase);
            var strategy = factored ? WoodburyStrategy.Dense : Enum.Parse<WoodburyStrategy>(name, ignoreCase: true);
            var options = new WoodFisherOptions { BlockSize = c, Damping = lambda, Strategy = strategy, Segments = segments, Backend = BackendKind.Cpu };
            var wall = System.Diagnostics.Stopwatch.StartNew();
            var t0 = CpuSeconds();
            using var builder = new WoodFisherBuilder(d, options, m);
            var all = g.AsSpan<float>();
            if (factored)
            {
                builder.AddFactors(new RowMajorFactors(g.GetData<float>(), m, d));
            }
            else
            {
                // One builder panel per call, as model-mode pruning streams its gradients.
                for (var r0 = 0; r0 < m; r0 += builder.PanelRows)
                {
                    var n = Math.Min(builder.PanelRows, m - r0);
                    builder.Add(all.Slice(r0 * d, n * d), n);
                }
            }

            var t1 = CpuSeconds();
            var w1 = wall.Elapsed.TotalSeconds;
            using var inverse = builder.Build();
            var t2 = CpuSeconds();
            var w2 = wall.Elapsed.TotalSeconds;
            var floor = floorGflop / peak;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}→{builder.Strategy}: Add {t1 - t0:F2} s, Build {t2 - t1:F2} s CPU time per core; wall Add {w1:F2} s, Build {w2 - w1:F2} s (peak {peak:F0} GFLOP/s on {Environment.ProcessorCount} cores; the dense flop floor, Σ c²m + c³ = {floorGflop:F0} GFLOP, {floor:F2} s at that peak: Add + Build {(t2 - t0) / floor:F1}× it in CPU time per core, {w2 / floor:F1}× in wall time)"));
        }
    }

    private static (int C, int M) Cell(string text)
    {
        var p = text.Split(':');
        return (int.Parse(p[0], CultureInfo.InvariantCulture), int.Parse(p[1], CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// The best of <paramref name="rounds"/> rounds of <paramref name="a"/>, in process CPU seconds per call (all threads),
    /// each round enough calls for 0.2 s, as CPU time is counted in clock ticks of 10 ms. The rounds start after 0.3 s and
    /// 31 calls of warm-up (or 3 s), so that tiered compilation has replaced the first, unoptimised code of everything called.
    /// </summary>
    internal static double BestCpuSeconds(Action a, int rounds)
    {
        var warm = Stopwatch.StartNew();
        for (var i = 0; (i < 31 || warm.Elapsed.TotalSeconds < 0.3) && warm.Elapsed.TotalSeconds < 3; i++)
        {
            a();
        }

        var sw = Stopwatch.StartNew();
        a();
        var calls = Math.Max(1, (int)(0.2 / Math.Max(sw.Elapsed.TotalSeconds, 1e-6)));
        var best = double.MaxValue;
        for (var r = 0; r < rounds; r++)
        {
            var t0 = CpuSeconds() * Environment.ProcessorCount;
            for (var i = 0; i < calls; i++)
            {
                a();
            }

            best = Math.Min(best, ((CpuSeconds() * Environment.ProcessorCount) - t0) / calls);
        }

        return best;
    }

    internal static double CpuSeconds()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime.TotalSeconds / Environment.ProcessorCount;
    }
}
