using System.Globalization;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Models.Data;

namespace WoodFisher.Bench;

/// <summary>
/// <c>-- model-inverse MODEL [m] [c] [λ] [rounds] [DATA]</c>: the inverse of model-mode pruning alone. The per-sample
/// gradients of the first m training examples (default 1,000; DATA as <c>--data</c>) of a safetensors MLP are taken as
/// factors once; then each round builds the float32 Dense-strategy WoodFisher inverse from them (blocks of c = 400 by
/// default, λ = 1e-5), as <c>prune --model</c> does, and prints its process CPU time divided by the core count (the wall
/// time it would take with every core busy), with the time the JIT spent compiling in it (all threads) and how many
/// methods it compiled. The first round includes compiling and first touch; the best and the median of the others are
/// what an optimisation changes. Run with <c>DOTNET_PROCESSOR_COUNT=1</c> on a
/// shared machine: one core's CPU time is what other tenants disturb least.
/// </summary>
internal static class ModelInverseProfile
{
    public static void Run(string[] args)
    {
        var model = ModelFiles.Load(args[0], null);
        var m = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1000;
        var c = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 400;
        var lambda = args.Length > 3 ? double.Parse(args[3], CultureInfo.InvariantCulture) : 1e-5;
        var rounds = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 7;
        var data = DataSets.LoadHead(args.Length > 5 ? args[5] : null, "train", m).Head;
        var selection = ParameterSelection<float>.Prunable(model);
        var factors = PerSampleGradients.ComputeFactors(model, data.Images, data.Labels, null, m, selection)
            ?? throw new InvalidOperationException("The model's prunable parameters are not all Linear weights.");
        var options = new WoodFisherOptions { BlockSize = c, Damping = lambda, Strategy = WoodburyStrategy.Dense, Precision = Precision.Float32, Backend = BackendKind.Cpu };
        var times = new List<double>();
        var jit = new List<string>();
        for (var r = 0; r <= rounds; r++)
        {
            var t0 = CpuTimeProfiles.CpuSeconds();
            var (j0, n0) = (System.Runtime.JitInfo.GetCompilationTime(), System.Runtime.JitInfo.GetCompiledMethodCount());
            using (var builder = new WoodFisherBuilder(selection.Dimension, options, m))
            {
                builder.AddFactors(factors);
                using var inverse = builder.Build();
            }

            times.Add(CpuTimeProfiles.CpuSeconds() - t0);
            jit.Add(string.Create(CultureInfo.InvariantCulture, $"{(System.Runtime.JitInfo.GetCompilationTime() - j0).TotalSeconds:F3}s/{System.Runtime.JitInfo.GetCompiledMethodCount() - n0}"));
            GC.Collect();
        }

        var warm = times.Skip(1).Order().ToArray();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"model-inverse d={selection.Dimension} m={m} c={c} on {Environment.ProcessorCount} cores: first {times[0]:F3} s, best {warm[0]:F3} s, median {warm[warm.Length / 2]:F3} s CPU ({string.Join(' ', times.Select(t => t.ToString("F3", CultureInfo.InvariantCulture)))}); compiling {string.Join(' ', jit)}"));
    }
}
