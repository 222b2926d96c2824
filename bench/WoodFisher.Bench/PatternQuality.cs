using System.Diagnostics;
using System.Globalization;
using System.Text;
using ScottPlot;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;
using WoodFisher.Pruning;

namespace WoodFisher.Bench;

/// <summary>
/// The quality tables of docs/structured-pruning.md: Fashion-MNIST test accuracy after one-shot pruning of the
/// 784-40-20-10 MLP and LeNet-5 under each pattern, WoodFisher (joint update, 1 and 4 recompute steps) against magnitude
/// under the same pattern, at one damping λ = <see cref="Damping"/> for every WoodFisher row; then, on the MLP, how the
/// structured patterns depend on λ. <c>dotnet run -c Release --project bench/WoodFisher.Bench -- pattern-quality [--out DIR]</c>
/// trains both models once (kept in DIR/models), then writes DIR/quality.csv, quality.md, one PNG per model, and
/// damping.csv, damping.md.
/// </summary>
public static class PatternQuality
{
    private static readonly (string Pattern, double Sparsity)[] Grid =
    [
        ("unstructured", 0.5), ("2:4", 0.5), ("4:8", 0.5), ("block:1x4", 0.5), ("block:4x1", 0.5),
        ("unstructured", 0.75), ("1:4", 0.75), ("block:1x4", 0.75), ("block:4x1", 0.75),
        ("neurons", 0.25), ("neurons", 0.5),
    ];

    /// <summary>λ of every WoodFisher row of the quality tables (1000 samples, blocks of 100: the library's other defaults).</summary>
    public const double Damping = 1e-4;

    private static readonly (string Name, PruningMethod Method, int Steps)[] Methods =
    [
        ("magnitude", PruningMethod.Magnitude, 1), ("woodfisher", PruningMethod.WoodFisher, 1), ("woodfisher K=4", PruningMethod.WoodFisher, 4),
    ];

    /// <summary>Runs the grid and writes the tables and plots.</summary>
    public static void Run(string outDir)
    {
        Directory.CreateDirectory(Path.Combine(outDir, "models"));
        var train = DataSets.Load(null, "train");
        var test = DataSets.Load(null, "test");
        var csv = new StringBuilder("model,pattern,target,method,damping,recompute,sparsity,units_removed,test_accuracy,test_loss,seconds\n");
        var md = new StringBuilder();
        foreach (var (spec, epochs) in new[] { ("mlp:784-40-20-10", 10), ("lenet5", 5) })
        {
            var path = Path.Combine(outDir, "models", spec.Split(':')[0] + ".safetensors");
            if (!File.Exists(path))
            {
                var m = ModelFactory.Create(spec, seed: 1);
                Console.WriteLine($"training {spec} for {epochs} epochs");
                Trainer.Train(m, train.Images, train.Labels, train.Count, new TrainerOptions { Epochs = epochs, Seed = 1 });
                ModelFiles.Save(m, path);
            }

            var dense = Evaluation.Evaluate(ModelFiles.Load(path), test.Images, test.Labels, test.Count);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{spec}: dense test accuracy {dense.Accuracy:0.0000}"));
            md.AppendLine(CultureInfo.InvariantCulture, $"**{spec}** (dense: {100 * dense.Accuracy:0.00}%), test accuracy after one-shot pruning:").AppendLine();
            md.AppendLine("| pattern | sparsity | " + string.Join(" | ", Methods.Select(m => m.Name)) + " |");
            md.AppendLine("|---|---:|" + string.Concat(Methods.Select(_ => "---:|")));
            var bars = new List<(string Label, double[] Accuracy)>();
            foreach (var (pattern, target) in Grid)
            {
                var accuracies = new double[Methods.Length];
                string sparsityText = "";
                for (var i = 0; i < Methods.Length; i++)
                {
                    var (name, method, steps) = Methods[i];
                    var model = ModelFiles.Load(path);
                    var clock = Stopwatch.StartNew();
                    var (sparsity, units) = Prune(model, train, PruningPattern.Parse(pattern), target, method, steps, Damping);
                    var r = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
                    accuracies[i] = r.Accuracy;
                    sparsityText = pattern == "neurons" ? $"{100 * target:0}% of units" : $"{100 * sparsity:0.0}%";
                    csv.AppendLine(CultureInfo.InvariantCulture, $"{spec},{pattern},{target},{name.Split(' ')[0]},{(method == PruningMethod.Magnitude ? "" : Damping)},{steps},{sparsity:0.0000},{units},{r.Accuracy:0.0000},{r.Loss:0.0000},{clock.Elapsed.TotalSeconds:0.0}");
                    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{spec} {pattern} {target} {name}: accuracy {r.Accuracy:0.0000} (sparsity {sparsity:0.000}, {clock.Elapsed.TotalSeconds:0.0} s)"));
                }

                md.AppendLine($"| {pattern} | {sparsityText} | " + string.Join(" | ", accuracies.Select(a => (100 * a).ToString("0.00", CultureInfo.InvariantCulture) + "%")) + " |");
                bars.Add(($"{pattern}\n{sparsityText}", accuracies));
            }

            md.AppendLine();
            Plot(Path.Combine(outDir, "quality_" + spec.Split(':')[0] + ".png"), spec, dense.Accuracy, bars);
        }

        File.WriteAllText(Path.Combine(outDir, "quality.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(outDir, "quality.md"), md.ToString());
        DampingSweep(outDir, Path.Combine(outDir, "models", "mlp.safetensors"), train, test);
    }

    /// <summary>WoodFisher (one step, joint update) on the MLP at λ = 1e-5 … 1e-2 for the structured patterns.</summary>
    private static void DampingSweep(string outDir, string path, Dataset train, Dataset test)
    {
        double[] lambdas = [1e-5, 1e-4, 1e-3, 1e-2];
        (string Pattern, double Target)[] cases = [("unstructured", 0.75), ("2:4", 0.5), ("1:4", 0.75), ("block:4x1", 0.75), ("neurons", 0.5)];
        var csv = new StringBuilder("pattern,target,damping,test_accuracy\n");
        var md = new StringBuilder("| pattern | sparsity | " + string.Join(" | ", lambdas.Select(l => "λ = " + l.ToString("0e0", CultureInfo.InvariantCulture))) + " |\n");
        md.AppendLine("|---|---:|" + string.Concat(lambdas.Select(_ => "---:|")));
        foreach (var (pattern, target) in cases)
        {
            var row = new List<string>();
            foreach (var lambda in lambdas)
            {
                var model = ModelFiles.Load(path);
                Prune(model, train, PruningPattern.Parse(pattern), target, PruningMethod.WoodFisher, 1, lambda);
                var r = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
                csv.AppendLine(CultureInfo.InvariantCulture, $"{pattern},{target},{lambda},{r.Accuracy:0.0000}");
                row.Add((100 * r.Accuracy).ToString("0.00", CultureInfo.InvariantCulture) + "%");
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"damping {lambda:g} {pattern} {target}: accuracy {r.Accuracy:0.0000}"));
            }

            md.AppendLine($"| {pattern} | {target.ToString("0.00", CultureInfo.InvariantCulture)} | {string.Join(" | ", row)} |");
        }

        File.WriteAllText(Path.Combine(outDir, "damping.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(outDir, "damping.md"), md.ToString());
    }

    /// <summary>Prunes the model's Linear/Conv2d weights in place; returns the weight sparsity and, for neurons, the units removed.</summary>
    private static (double Sparsity, int Units) Prune(IModel<float> model, Dataset train, PruningPattern pattern, double target, PruningMethod method, int steps, double damping)
    {
        var selection = ParameterSelection<float>.Prunable(model);
        var options = new PrunerOptions
        {
            Method = method,
            Update = method == PruningMethod.Magnitude ? UpdateMode.None : UpdateMode.Joint,
            Sparsity = target,
            Pattern = pattern,
            RecomputeSteps = steps,
            Segments = selection.Segments,
            SegmentShapes = [.. selection.Entries.Select(e => e.Shape)],
        };
        var curvature = new ModelCurvature(model, selection, train.Images, train.Labels);
        var spec = new EstimatorSpec { Method = method, Damping = damping };
        var result = new Pruner(options).Prune(curvature.GetWeights(), method == PruningMethod.Magnitude ? null : curvature.Factory(spec));
        curvature.SetWeights(result.Weights);
        var units = 0;
        if (pattern.Kind == PatternKind.Neurons)
        {
            var shrunk = NeuronRemoval.Shrink(model);
            units = shrunk.Units.Sum(u => u.Before - u.After);
        }

        return (result.Sparsity, units);
    }

    private static void Plot(string path, string spec, double dense, List<(string Label, double[] Accuracy)> groups)
    {
        var plt = new Plot();
        var palette = new ScottPlot.Palettes.Category10();
        var bars = new List<Bar>();
        for (var g = 0; g < groups.Count; g++)
        {
            for (var m = 0; m < Methods.Length; m++)
            {
                bars.Add(new Bar
                {
                    Position = (g * (Methods.Length + 1)) + m,
                    Value = 100 * groups[g].Accuracy[m],
                    FillColor = palette.GetColor(m),
                });
            }
        }

        plt.Add.Bars(bars);
        var line = plt.Add.HorizontalLine(100 * dense);
        line.LinePattern = LinePattern.Dashed;
        line.LegendText = "dense";
        for (var m = 0; m < Methods.Length; m++)
            plt.Legend.ManualItems.Add(new LegendItem { LabelText = Methods[m].Name, FillColor = palette.GetColor(m) });
        plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. groups.Select((_, g) => (double)(g * (Methods.Length + 1)) + 1)], [.. groups.Select(t => t.Label)]);
        plt.Axes.Margins(bottom: 0);
        plt.Title($"{spec}: Fashion-MNIST test accuracy after one-shot pruning");
        plt.YLabel("test accuracy (%)");
        plt.ShowLegend(Edge.Right);
        plt.SavePng(path, 1400, 550);
    }
}
