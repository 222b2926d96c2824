using System.Diagnostics;
using System.Globalization;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;

namespace WoodFisher.Bench;

/// <summary>
/// The library's side of <c>bench/pytorch/lenet5_speed.py</c>, measured the same way and printed in the same JSON lines:
/// 1,000 per-sample weight gradients of LeNet-5 written into a preallocated 1,000 × d float32 G, then one SGD training
/// epoch (lr 0.05, momentum 0.9, batch 128) over the full Fashion-MNIST training set held in memory.
/// Run: <c>dotnet run -c Release --project bench/WoodFisher.Bench -- lenet5 [runs] [--skip-epoch] [--skip-per-sample]
/// [--images N]</c> (N: train on the first N images only).
/// </summary>
public static class LeNet5Speed
{
    public static void Run(string[] args)
    {
        var runs = args.Length > 0 && int.TryParse(args[0], CultureInfo.InvariantCulture, out var r) ? r : 5;
        var skipEpoch = args.Contains("--skip-epoch");
        var skipPerSample = args.Contains("--skip-per-sample");
        var at = Array.IndexOf(args, "--images");
        var data = DataSets.Load(null, "train");
        if (at >= 0)
        {
            data = data.Take(int.Parse(args[at + 1], CultureInfo.InvariantCulture));
        }

        const int Samples = 1000;
        var model = new LeNet5<float>();
        var selection = ParameterSelection<float>.Prunable(model);
        var d = selection.Dimension;
        var g = new float[(long)Samples * d];
        PerSampleGradients.Compute(model, data.Images, data.Labels, null, Samples, selection, 1, g);
        for (var i = 0; i < (skipPerSample ? 0 : runs); i++)
        {
            var (sw, cpu) = Start();
            PerSampleGradients.Compute(model, data.Images, data.Labels, null, Samples, selection, 1, g);
            Print($"per-sample gradients ({Samples}, d = {d})", i, sw, cpu);
        }

        if (skipEpoch)
        {
            return;
        }

        for (var i = 0; i < runs; i++)
        {
            var net = new LeNet5<float>(seed: i);
            var options = new TrainerOptions { Epochs = 1, BatchSize = 128, Seed = i };
            var (sw, cpu) = Start();
            Trainer.Train(net, data.Images, data.Labels, data.Count, options);
            Print($"training epoch ({data.Count} images, batch 128)", i, sw, cpu);
        }
    }

    private static (Stopwatch Wall, TimeSpan Cpu) Start() => (Stopwatch.StartNew(), Process.GetCurrentProcess().TotalProcessorTime);

    /// <summary>One JSON line: wall-clock seconds, and CPU seconds of all threads (what a loaded machine distorts less).</summary>
    private static void Print(string what, int run, Stopwatch wall, TimeSpan cpu)
    {
        var seconds = wall.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{{\"what\": \"{what}\", \"run\": {run}, \"seconds\": {seconds:F4}, \"cpu_seconds\": {cpuSeconds:F4}}}"));
    }
}
