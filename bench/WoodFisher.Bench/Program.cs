using System.Globalization;
using BenchmarkDotNet.Running;
using WoodFisher.Kernels;

namespace WoodFisher.Bench;

/// <summary>
/// Entry point: <c>dotnet run -c Release --project bench/WoodFisher.Bench -- --filter '*'</c> runs the BenchmarkDotNet
/// suites; <c>-- kernels [--repeats N] [--crossover] [c,m,d ...]</c> runs the quick <see cref="KernelBenchmark"/> grid (one
/// table, ratios in one run; <c>--crossover</c> times RankK against Dense only, to check the cost model of Auto);
/// <c>-- lenet5 [runs]</c> times LeNet-5 training and per-sample gradients as <c>bench/pytorch/lenet5_speed.py</c> does;
/// <c>-- conv-profile [reps] [op]</c> times one LeNet-5 step's ops;
/// <c>-- dense-profile</c> prints one-core Gram-panel and Cholesky timings of the Dense strategy;
/// <c>-- rankk-block [reps] [c:m …]</c> times the backend's rank-k update of one block against the peak measured in the same run;
/// <c>-- rankk-profile</c> prints single-core phase timings of one rank-k panel, the builder's overhead and the dense path;
/// <c>-- dense-rows [c] [r …]</c> times one block's float32 Dense inverse from r rows (<see cref="DenseRowsProfile"/>);
/// <c>-- model-inverse MODEL</c> times model-mode pruning's inverse alone (<see cref="ModelInverseProfile"/>);
/// <c>-- rankk-cpu</c>, <c>-- inverse-cpu</c> and <c>-- joint-cpu</c> (<see cref="JointUpdateProfile"/>) time in CPU time (<see cref="CpuTimeProfiles"/>), for shared machines;
/// <c>-- pattern-quality [--out DIR]</c> writes the structured-pruning quality tables (<see cref="PatternQuality"/>);
/// <c>-- inference-profile PRUNED BASELINE [batch] [blocks]</c> times the inference engine per layer (<see cref="InferenceProfile"/>);
/// <c>-- inference-ab PRUNED BASELINE [batch] [calls]</c> compares the engines call by call in one process (<see cref="InferenceAb"/>).
/// </summary>
public static class Program
{
    /// <summary>The quick verbs by name, each given the arguments after it.</summary>
    private static readonly Dictionary<string, Action<string[]>> Verbs = new(StringComparer.Ordinal)
    {
        ["inference-profile"] = InferenceProfile.Run,
        ["inference-ab"] = InferenceAb.Run,
        ["pattern-quality"] = a => PatternQuality.Run(a.Length > 1 && a[0] == "--out" ? a[1] : "docs/structured"),
        ["kernels"] = RunKernelGrid,
        ["lenet5"] = LeNet5Speed.Run,
        ["conv-profile"] = ConvProfile.Run,
        ["dense-profile"] = _ =>
        {
            DenseGramProfile.Run(400, 1000, 5);
            DenseGramProfile.Run(512, 1024, 5);
            DenseGramProfile.Run(128, 1024, 5);
        },
        ["rankk-block"] = RunRankKBlocks,
        ["rankk-ab"] = RankKAb.Run,
        ["gemm-shapes"] = GemmShapesProfile.Run,
        ["rankk-cpu"] = CpuTimeProfiles.RankK,
        ["cholinv-cpu"] = CholeskyInverseProfile.Run,
        ["cholinv-ab"] = CholeskyInverseAb.Run,
        ["joint-cpu"] = JointUpdateProfile.Run,

        // The float32 FMA peak on all cores, the divisor of every "% of peak" and flop-floor ratio (for scripts that time a
        // whole command between two of these).
        ["peak"] = _ => Console.WriteLine($"peak {KernelBenchmark.MeasurePeakGflops(Precision.Float32):F0} GFLOP/s on {Environment.ProcessorCount} cores"),
        ["dense-rows"] = DenseRowsProfile.Run,
        ["model-inverse"] = ModelInverseProfile.Run,
        ["inverse-cpu"] = CpuTimeProfiles.Inverse,
        ["rankk-profile"] = _ => RunRankKProfile(),
        ["ilgpu-profile"] = IlgpuProfile.Run,
    };

    public static void Main(string[] args)
    {
        if (args.Length > 0 && Verbs.TryGetValue(args[0], out var verb))
        {
            verb(args[1..]);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }

    private static void RunRankKBlocks(string[] args)
    {
        var reps = args.Length > 0 ? int.Parse(args[0], CultureInfo.InvariantCulture) : 10;
        var cells = args.Length > 1
            ? args[1..].Select(a => a.Split(':')).Select(p => (int.Parse(p[0], CultureInfo.InvariantCulture), int.Parse(p[1], CultureInfo.InvariantCulture))).ToArray()
            : [(512, 128), (512, 256), (512, 1024), (1024, 256), (1024, 1024)];
        foreach (var (c, m) in cells)
        {
            RankKBlockProfile.Run(c, m, reps);
        }
    }

    private static void RunRankKProfile()
    {
        foreach (var (c, k) in new[] { (512, 64), (512, 128), (128, 32), (128, 64), (1024, 128) })
        {
            RankKProfile.Run(c, k, 5);
            RankKProfile.Run(c, k, 20);
        }

        foreach (var par in new[] { false, true, false, true })
        {
            Console.WriteLine($"GEMM 1024³ parallel={par}: {KernelBenchmark.MeasureGemmGflops(1024, 1024, 1024, parallel: par, repeats: 5):F1} GFLOP/s");
        }

        DenseProfile.Run(128, 256, 1024, 10);
        DenseProfile.Run(512, 1024, 2048, 5);
        BuilderOverheadProfile.Run(128, 256, 128, 10);
        BuilderOverheadProfile.Run(512, 1024, 512, 5);
        BuilderOverheadProfile.Run(128, 256, 1024, 10);
        BuilderOverheadProfile.Run(512, 1024, 2048, 5);
    }

    private static void RunKernelGrid(string[] cells)
    {
        var repeats = 3;
        WoodburyStrategy[] strategies = [WoodburyStrategy.Rank1, WoodburyStrategy.RankK, WoodburyStrategy.Auto];
        while (cells.Length > 0 && cells[0].StartsWith("--", StringComparison.Ordinal))
        {
            if (cells[0] == "--repeats")
            {
                repeats = int.Parse(cells[1], CultureInfo.InvariantCulture);
                cells = cells[2..];
            }
            else if (cells[0] == "--crossover")
            {
                // Auto's crossover: RankK against Dense only.
                strategies = [WoodburyStrategy.RankK];
                cells = cells[1..];
            }
            else
            {
                throw new ArgumentException($"Unknown option {cells[0]}.");
            }
        }

        var grid = cells.Length > 0
            ? cells.Select(s => s.Split(',').Select(x => int.Parse(x, CultureInfo.InvariantCulture)).ToArray()).Select(a => (a[0], a[1], a[2])).ToList()
            : [(128, 256, 1024), (128, 1024, 1024), (512, 256, 2048), (512, 1024, 2048)];
        var peak = KernelBenchmark.MeasurePeakGflops(Precision.Float32);
        var inv = CultureInfo.InvariantCulture;
        Console.WriteLine(string.Create(inv, $"GEMM 1024³ float32, all cores: {KernelBenchmark.MeasureGemmGflops(1024, 1024, 1024):F1} GFLOP/s"));
        foreach (var (m, n, k) in new[] { (512, 128, 512), (512, 512, 128), (512, 512, 64), (512, 64, 512) })
        {
            Console.WriteLine(string.Create(inv, $"GEMM {m}×{n}×{k} float32, one core: {KernelBenchmark.MeasureGemmGflops(m, n, k, parallel: false, repeats: 10):F1} GFLOP/s"));
        }

        var results = KernelBenchmark.Run(grid, strategies, repeats: repeats);
        Console.WriteLine(KernelBenchmark.FormatTable(results, peak));
    }
}
