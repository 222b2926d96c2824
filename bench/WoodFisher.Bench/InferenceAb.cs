using System.Diagnostics;
using System.Globalization;
using WoodFisher.Models;
using WoodFisher.Models.Inference;

namespace WoodFisher.Bench;

/// <summary>
/// The pruned model's sparse engine, the same engine with its first product run after a shared transpose
/// (<see cref="InferenceModel.FirstProductFromSamples"/> off), and the baseline's dense engine, in one process: blocks of
/// 40 calls per engine in turn over the first 1,000 test images (the first 8 calls after a switch left out), so that the
/// machine's slow and fast phases fall on all three alike. Prints each engine's 10th and 50th percentile per call and the
/// dense engine's median over each sparse one's. Run:
/// <c>dotnet run -c Release --project bench/WoodFisher.Bench -- inference-ab PRUNED BASELINE [batch] [calls]</c>.
/// </summary>
public static class InferenceAb
{
    public static void Run(string[] args)
    {
        var pruned = CompressedModelFiles.Load(args[0]);
        var baseline = ModelFiles.Load(args[1]);
        var batch = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 64;
        var calls = args.Length > 3 ? int.Parse(args[3], CultureInfo.InvariantCulture) : 2000;
        using var fromSamples = pruned.CreateEngine(InferenceEngine.Sparse, batch);
        using var shared = pruned.CreateEngine(InferenceEngine.Sparse, batch);
        shared.FirstProductFromSamples = false;
        using var dense = InferenceModel.Create(baseline, InferenceEngine.Dense, batch);
        (string Name, InferenceModel Engine)[] engines = [("sparse", fromSamples), ("sparse, shared transpose", shared), ("dense", dense)];
        var images = WoodFisher.Models.Data.DataSets.Load(null, "test");
        var features = dense.InputShape.Aggregate(1, (a, b) => a * b);
        var pool = Math.Max(1, Math.Min(images.Count, 1000) / batch);
        var logits = new float[dense.NumClasses * batch];
        const int blockCalls = 40, skip = 8;
        var ticks = engines.Select(_ => new List<long>(calls)).ToArray();
        var clock = Stopwatch.StartNew();
        for (var i = 0; clock.ElapsedMilliseconds < 1000; i++)
            engines[i % engines.Length].Engine.Logits(images.Images.AsSpan(i % pool * batch * features, batch * features), batch, logits);
        for (var block = 0; ticks.Min(t => t.Count) < calls; block++)
        {
            var k = block % engines.Length;
            for (var j = 0; j < blockCalls; j++)
            {
                var i = (block * blockCalls) + j;
                var t0 = Stopwatch.GetTimestamp();
                engines[k].Engine.Logits(images.Images.AsSpan(i % pool * batch * features, batch * features), batch, logits);
                var dt = Stopwatch.GetTimestamp() - t0;
                if (j >= skip && ticks[k].Count < calls)
                    ticks[k].Add(dt);
            }
        }

        double Q(int k, double q) => ticks[k].Order().ElementAt((int)(q * (calls - 1))) * 1e6 / Stopwatch.Frequency;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"batch {batch}; {calls} calls per engine in blocks of {blockCalls}; µs per call; {Environment.ProcessorCount} cores, load {Load()}"));
        for (var k = 0; k < engines.Length; k++)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{engines[k].Name,-26} p10 {Q(k, 0.1),8:0.0}   p50 {Q(k, 0.5),8:0.0}{(k < 2 ? $"   dense p50 / this p50 {Q(2, 0.5) / Q(k, 0.5):0.00}" : "")}"));
        }
    }

    private static string Load() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
}
