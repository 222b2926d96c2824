using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Reflection.Emit;

namespace WoodFisher.Bench;

/// <summary>
/// <c>-- rankk-ab c m rounds DIR…</c>: the CPU backend's rank-k update of one float32 block (d = c, m float64 gradients,
/// continued: F⁻¹ not the fresh σI) from each DIR's WoodFisher.Kernels.dll (two builds, e.g. a baseline and a change), each
/// loaded in its own context, timed in turns within one process so that load on a shared machine falls on all of them
/// alike: round r times every build once (CPU time of enough updates to take about 0.2 s). Prints per build the best, lower
/// quartile and median GFLOP/s (nominal 4c²m) over the rounds after the first three, and the ratios of each build's times
/// to the first's. Between rounds the float32 FMA peak is measured again (this build's micro-kernel, best 64-call window in
/// 0.05 s), and each build's rate in a round is divided by the larger of the peaks just before and just after it: on a
/// machine shared with other work the peak itself moves by half, and a share taken against a peak measured at another
/// moment follows that drift rather than the update. Prints each build's least, lower quartile and median share. Run with
/// <c>DOTNET_PROCESSOR_COUNT=1</c> for one core.
/// </summary>
internal static class RankKAb
{
    private delegate void Update(object backend, object storage, double[] g, int rows, double normalizer);

    public static void Run(string[] args)
    {
        var c = int.Parse(args[0], CultureInfo.InvariantCulture);
        var m = int.Parse(args[1], CultureInfo.InvariantCulture);
        var rounds = int.Parse(args[2], CultureInfo.InvariantCulture);
        var dirs = args[3..];
        var rng = new Random(3);
        var g = new double[m * c];
        for (var i = 0; i < g.Length; i++)
        {
            g[i] = (rng.NextDouble() * 2) - 1;
        }

        var builds = dirs.Select(d => new Build(d, c)).ToArray();
        var nominal = 4.0 * c * c * m;
        var inner = Math.Max(1, (int)(0.2 * 50e9 / nominal));
        var times = dirs.Select(_ => new List<double>()).ToArray();
        using var process = Process.GetCurrentProcess();
        var peaks = new List<double> { WoodFisher.Kernels.KernelBenchmark.MeasurePeakGflops(seconds: 0.05) };
        for (var r = 0; r < rounds; r++)
        {
            for (var v = 0; v < builds.Length; v++)
            {
                builds[v].Reset();
                builds[v].Run(g, m);
                process.Refresh();
                var t0 = process.TotalProcessorTime;
                for (var q = 0; q < inner; q++)
                {
                    builds[v].Run(g, m);
                }

                process.Refresh();
                times[v].Add((process.TotalProcessorTime - t0).TotalSeconds / inner / Environment.ProcessorCount);
            }

            peaks.Add(WoodFisher.Kernels.KernelBenchmark.MeasurePeakGflops(seconds: 0.05));
        }

        var first = times[0].Skip(3).Order().ToList();
        for (var v = 0; v < dirs.Length; v++)
        {
            var t = times[v].Skip(3).Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"c={c} m={m} cores={Environment.ProcessorCount} {dirs[v]}: best {nominal / t[0] / 1e9:F1}, lower quartile {nominal / t[t.Count / 4] / 1e9:F1}, median {nominal / t[t.Count / 2] / 1e9:F1} GFLOP/s (CPU time); time over the first build's: best {t[0] / first[0]:F3}, quartile {t[t.Count / 4] / first[first.Count / 4]:F3}, median {t[t.Count / 2] / first[first.Count / 2]:F3}"));
            var shares = times[v].Select((time, r) => (r, share: nominal / time / 1e9 / Math.Max(peaks[r], peaks[r + 1]))).Skip(3).Select(x => x.share).Order().ToList();
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  share of the peak measured around each round ({peaks.Min():F0}–{peaks.Max():F0} GFLOP/s): least {100 * shares[0]:F0}%, lower quartile {100 * shares[shares.Count / 4]:F0}%, median {100 * shares[shares.Count / 2]:F0}%, best {100 * shares[^1]:F0}%"));
        }
    }

    /// <summary>One build's CPU backend and a c × c float32 block, driven through reflection.</summary>
    private sealed class Build
    {
        private readonly object _backend;
        private readonly object _storage;
        private readonly MethodInfo _reset;
        private readonly Update _update;

        public Build(string dir, int c)
        {
            var context = new BuildContext(dir);
            var assembly = context.LoadFromAssemblyPath(Path.GetFullPath(Path.Combine(dir, "WoodFisher.Kernels.dll")));
            var backendType = assembly.GetType("WoodFisher.Kernels.CpuBackend", throwOnError: true)!;
            var storageType = assembly.GetType("WoodFisher.Kernels.IBlockStorage", throwOnError: true)!;
            var layout = assembly.GetType("WoodFisher.Kernels.BlockLayout", throwOnError: true)!.GetMethod("Create")!.Invoke(null, [c, c, null])!;
            var precision = Enum.Parse(assembly.GetType("WoodFisher.Kernels.Precision", throwOnError: true)!, "Float32");
            _backend = Activator.CreateInstance(backendType)!;
            _storage = backendType.GetMethod("Allocate")!.Invoke(_backend, [layout, precision])!;
            _reset = backendType.GetMethod("SetScaledIdentity")!;
            var rankK = backendType.GetMethod("RankKUpdate", [storageType, typeof(ReadOnlySpan<double>), typeof(int), typeof(double)])!;

            // (backend, storage, g, rows, normalizer) => ((CpuBackend)backend).RankKUpdate((IBlockStorage)storage, g, rows, normalizer):
            // a span argument cannot pass through MethodInfo.Invoke.
            var shim = new DynamicMethod("RankKUpdate", null, [typeof(object), typeof(object), typeof(double[]), typeof(int), typeof(double)], typeof(RankKAb).Module, skipVisibility: true);
            var il = shim.GetILGenerator();
            il.Emit(OpCodes.Ldarg_0);
            il.Emit(OpCodes.Castclass, backendType);
            il.Emit(OpCodes.Ldarg_1);
            il.Emit(OpCodes.Castclass, storageType);
            il.Emit(OpCodes.Ldarg_2);
            il.Emit(OpCodes.Call, typeof(ReadOnlySpan<double>).GetMethod("op_Implicit", [typeof(double[])])!);
            il.Emit(OpCodes.Ldarg_3);
            il.Emit(OpCodes.Ldarg_S, (byte)4);
            il.Emit(OpCodes.Callvirt, rankK);
            il.Emit(OpCodes.Ret);
            _update = shim.CreateDelegate<Update>();
        }

        public void Reset() => _reset.Invoke(_backend, [_storage, 1e3]);

        public void Run(double[] g, int rows) => _update(_backend, _storage, g, rows, 2.0 * rows);
    }
}
