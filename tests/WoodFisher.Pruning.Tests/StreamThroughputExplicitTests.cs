using System.Diagnostics;
using System.Globalization;
using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning.Tests;

/// <summary>
/// Documented measurements (docs/performance.md, "Larger than memory"), not run in CI: the build streamed from a .npy file
/// against the same build from rows in memory, and global selection against a full sort. Run alone on a quiet machine:
/// <c>dotnet test tests/WoodFisher.Pruning.Tests -c Release --filter "FullyQualifiedName~StreamThroughputExplicitTests"</c>
/// (G is written under WOODFISHER_SCALE_DIR, else the temporary directory, and deleted).
/// </summary>
[Explicit("minutes and GBs: a documented measurement")]
[NonParallelizable]
public class StreamThroughputExplicitTests
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    // Oracle for the timings' meaning: both builds give the same diagonal bit for bit (the streamed build's own test).
    [TestCase(2_000_000, 256, 64)]
    public void StreamedBuild_AgainstTheBuildFromMemory(int d, int c, int m)
    {
        var g = new float[(long)m * d];
        var rng = new Random(5);
        for (long i = 0; i < g.LongLength; i++)
        {
            g[i] = (float)((rng.NextDouble() - 0.5) * 1e-3);
        }

        var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-4 };
        var flops = 4.0 * c * c * m * (d / (double)c);
        var dir = Environment.GetEnvironmentVariable("WOODFISHER_SCALE_DIR") ?? Path.GetTempPath();
        var path = Path.Combine(dir, $"wf-stream-{Guid.NewGuid():N}.npy");
        try
        {
            Npy.Write(path, g, m, d);
            for (var run = 0; run < 3; run++)
            {
                var clock = Stopwatch.StartNew();
                double[] memoryDiagonal;
                using (var whole = WoodFisherCurvature.FromGradients(new ArrayGradientSource(g, d), options))
                {
                    memoryDiagonal = whole.Diagonal();
                }

                var memorySeconds = clock.Elapsed.TotalSeconds;
                GC.Collect();
                using var file = new NpyGradientSource(path);
                var plan = PassPlan.Create(BlockLayout.Create(d, c), m, options, 0);
                clock.Restart();
                using var streamed = GroupedWoodFisherCurvature.Build(file, options, plan);
                var streamSeconds = clock.Elapsed.TotalSeconds;
                Assert.That(streamed.Diagonal(), Is.EqualTo(memoryDiagonal));
                TestContext.Out.WriteLine(string.Create(Inv,
                    $"d={d} c={c} m={m}: memory {memorySeconds:F2} s ({flops / memorySeconds / 1e9:F1} GFLOP/s), streamed {streamSeconds:F2} s ({flops / streamSeconds / 1e9:F1} GFLOP/s, {100 * memorySeconds / streamSeconds:F0}% of memory), read {streamed.ReadSeconds:F2} s on the reader thread, waited {streamed.WaitSeconds:F2} s; {plan.Describe()}"));
                GC.Collect();
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    // Pass 1 of a two-pass plan (read each group's slab, build, keep the diagonal, drop) against `bench`'s in-memory
    // rank-k build of the same (c, m) (16 blocks, all m rows in one call) and the FMA peak, in one process. G is the
    // (m × d) file at WOODFISHER_SCALE_G (e.g. bench/scale/make_gradients.py's), else random rows written to
    // WOODFISHER_SCALE_DIR; WOODFISHER_SCALE_MEMORY is the budget (default 2G), WOODFISHER_SCALE_RUNS the runs (default 5).
    [TestCase(3_000_000, 1000, 128)]
    public void TwoPassFirstPass_AgainstTheBench(int d, int c, int m)
    {
        var given = Environment.GetEnvironmentVariable("WOODFISHER_SCALE_G");
        var dir = Environment.GetEnvironmentVariable("WOODFISHER_SCALE_DIR") ?? Path.GetTempPath();
        var path = given ?? Path.Combine(dir, $"wf-pass1-{Guid.NewGuid():N}.npy");
        var budget = MemoryBudget.Parse(Environment.GetEnvironmentVariable("WOODFISHER_SCALE_MEMORY") ?? "2G");
        var runs = int.Parse(Environment.GetEnvironmentVariable("WOODFISHER_SCALE_RUNS") ?? "5", Inv);
        try
        {
            if (given is null)
            {
                var g = new float[(long)m * d];
                var rng = new Random(5);
                for (long i = 0; i < g.LongLength; i++)
                {
                    g[i] = (float)((rng.NextDouble() - 0.5) * 1e-3);
                }

                Npy.Write(path, g, m, d);
            }

            using var file = new NpyGradientSource(path);
            (d, m) = (file.Dimension, (int)file.Count);
            var options = new WoodFisherOptions { BlockSize = c, Damping = 1e-4 };
            var layout = BlockLayout.Create(d, c);
            var plan = PassPlan.Create(layout, m, options, MemoryBudget.Product(d, TensorPruning.VectorBytesPerWeight), budget: budget);
            Assert.That(plan.TwoPass, Is.True, plan.Describe());
            TestContext.Out.WriteLine(plan.Describe());
            var flops = 0.0;
            for (var b = 0; b < layout.Count; b++)
            {
                flops += 4.0 * layout.Size(b) * layout.Size(b) * m;
            }

            for (var run = 0; run < runs; run++)
            {
                var peak = KernelBenchmark.MeasurePeakGflops();
                var bench = KernelBenchmark.Run([(c, m, 16 * c)], [WoodburyStrategy.RankK]).Single(r => r.Strategy == WoodburyStrategy.RankK).GFlops;
                var clock = Stopwatch.StartNew();
                using var pass1 = GroupedWoodFisherCurvature.Build(file, options, plan);
                var seconds = clock.Elapsed.TotalSeconds;
                var rate = flops / seconds / 1e9;
                TestContext.Out.WriteLine(string.Create(Inv,
                    $"run {run + 1}: pass 1 {seconds:F1} s = {rate:F1} GFLOP/s = {100 * rate / bench:F0}% of the bench's {bench:F1} GFLOP/s, {100 * rate / peak:F0}% of the peak {peak:F1}; build {pass1.BuildSeconds:F1} s, read {pass1.ReadSeconds:F1} s (reader thread), waited {pass1.WaitSeconds:F2} s"));
            }
        }
        finally
        {
            if (given is null)
            {
                File.Delete(path);
            }
        }
    }

    // Oracle: the mask from a full sort by (score, index) — radix selection must give exactly it.
    [TestCase(10_000_000)]
    [TestCase(25_000_000)]
    public void GlobalSelection_AgainstAFullSort(int d)
    {
        var rng = new Random(9);
        var scores = new double[d];
        for (var i = 0; i < d; i++)
        {
            scores[i] = Math.Round(rng.NextDouble() * 1e6) * 1e-3; // ties, as real scores have
        }

        var all = new bool[d];
        Array.Fill(all, true);
        var count = MaskSelection.TargetCount(0.5, d);
        for (var run = 0; run < 5; run++)
        {
            var clock = Stopwatch.StartNew();
            var mask = MaskSelection.Select(scores, all, 0.5);
            var selectSeconds = clock.Elapsed.TotalSeconds;

            clock.Restart();
            var keys = (double[])scores.Clone();
            var order = new int[d];
            for (var i = 0; i < d; i++)
            {
                order[i] = i;
            }

            Array.Sort(keys, order);
            var sorted = new bool[d];
            Array.Fill(sorted, true);
            // Equal scores in index order (Array.Sort is not stable): sort each run of ties by index.
            for (int i = 0, j; i < count; i = j)
            {
                for (j = i + 1; j < d && keys[j] == keys[i]; j++)
                {
                }

                Array.Sort(order, i, j - i);
            }

            for (var i = 0; i < count; i++)
            {
                sorted[order[i]] = false;
            }

            var sortSeconds = clock.Elapsed.TotalSeconds;
            Assert.That(mask, Is.EqualTo(sorted));
            TestContext.Out.WriteLine(string.Create(Inv, $"d={d}: radix selection {selectSeconds:F3} s, full sort {sortSeconds:F3} s ({sortSeconds / selectSeconds:F1}×)"));
        }
    }
}
