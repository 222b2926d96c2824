using System.Globalization;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher prune --model M.safetensors --grads G.npy --layout G.json --sparsity S --out P.safetensors</c>: a model
/// of any architecture. The layout's tensors are pruned (<see cref="LayoutPruning"/>), every other tensor is copied
/// unchanged; per-tensor sparsity is printed and, with <c>--report</c>, written as JSON. Masks and scores, when asked
/// for, are safetensors files with one tensor per pruned tensor (same names and shapes).
/// </summary>
internal static class PruneLayoutMode
{
    public static int Run(PruneCommand.Settings s)
    {
        if (s.Model is null)
            throw new ArgumentException("--layout needs --model M.safetensors (the weights the layout names)");
        Refuse(s.Weights, "--weights");
        Refuse(s.Segments, "--segments");
        Refuse(s.Arch, "--arch");
        Refuse(s.Data, "--data");
        Refuse(s.Seed, "--seed");
        Refuse(s.OutWeights, "--out-weights");
        if (s.IncludeBias)
            throw new ArgumentException("--include-bias does not apply with --layout: the layout lists the tensors to prune (add the biases to G and the layout)");

        var method = CliMethod.Parse(s.Method, ["woodfisher", "woodtaylor", "diagfisher", "magnitude", "magnitude-layerwise"]);
        var sparsity = s.Sparsity ?? throw new ArgumentException("--sparsity is required");
        CliParse.Sparsity(sparsity);
        CliParse.Damping(s.Damping);
        CliParse.Positive(s.Block, "--block");
        CliParse.TaylorStep(s.TaylorStep);
        if (s.Recompute != 1)
            throw new ArgumentException($"--recompute {s.Recompute}: a gradient file holds gradients at the dense weights only, so every step would reuse one inverse; use --recompute 1 (recompute needs a model the tool can run)");
        if (s.Normalizer is { } nrm && !(nrm > 0 && double.IsFinite(nrm)))
            throw new ArgumentException($"--normalizer must be positive, got {nrm.ToString(CultureInfo.InvariantCulture)}");
        if (s.Grads is null && method.Method != PruningMethod.Magnitude)
            throw new ArgumentException($"--grads is required for method {method.Name}");
        if (s.Out is null)
            throw new ArgumentException("--layout needs --out PRUNED.safetensors");
        CliParse.Outputs(s.Out, s.Report, s.OutMask, s.OutScores);
        var selection = method.Selection == Pruning.SelectionMode.Global ? CliParse.Selection(s.Selection) : method.Selection;
        var curvature = s.CurvatureOptions();

        var layout = GradientLayout.Read(CliFiles.RequireFile(s.Layout!));
        var model = SafeTensors.Read(CliFiles.RequireFile(s.Model!));
        var options = new PrunerOptions
        {
            Method = method.Method,
            Update = CliParse.Update(s.Update),
            Sparsity = sparsity,
            Selection = selection,
            PrunableSegments = Prunable(layout, s.Layers),
            GradientStep = s.TaylorStep,
        };

        using var gradients = s.Grads is null ? null : new NpyGradientSource(CliFiles.RequireFile(s.Grads), CheckedSegments(layout, s.Grads));
        LayoutPruning.Check(model, layout, gradients);
        TensorPruning.CheckInputs(layout.Dimension, gradients, options);
        var rows = gradients is null ? "no gradients" : $"{gradients.Count} gradients";
        LayoutPruningResult result;
        using (CliProgress.Start($"pruning {layout.Tensors.Count} tensors (d = {layout.Dimension}) by {method.Name} from {rows}", 0))
            result = LayoutPruning.Prune(model, layout, gradients, options, curvature);

        var report = result.Report with { Method = method.Name };
        var outputs = new List<(string Path, Action<Stream> Write)> { (s.Out, st => SafeTensors.Write(st, result.Model.Tensors, result.Model.Metadata)) };
        if (s.OutMask is not null)
            outputs.Add((s.OutMask, st => SafeTensors.Write(st, LayoutPruning.Split<bool>(layout, result.Result.Mask))));
        if (s.OutScores is not null)
            outputs.Add((s.OutScores, st => SafeTensors.Write(st, LayoutPruning.Split<double>(layout, result.Result.Scores))));
        foreach (var (path, write) in outputs)
            CliFiles.Write(path, write);
        if (s.Report is not null)
            CliFiles.WriteText(s.Report, report.ToJson());
        PruneCommand.PrintReport(report, $"{Path.GetFileName(s.Model)}: {report.Method} ({report.Update.ToString().ToLowerInvariant()} update), d = {layout.Dimension}, {rows}");
        return 0;
    }

    private static void Refuse(object? value, string option)
    {
        if (value is not null)
            throw new ArgumentException($"{option} does not apply with --layout (pruning a safetensors model from G.npy and its layout)");
    }

    /// <summary>G's columns must match the layout before the source is opened with its segments.</summary>
    private static int[] CheckedSegments(GradientLayout layout, string grads)
    {
        using var reader = new NpyRowReader(grads);
        layout.CheckGradients(reader.Rows, reader.Columns, grads);
        return layout.Segments;
    }

    /// <summary>Every layout tensor, or those named by <c>--layers</c> (fc1 or fc1.weight); the others stay dense.</summary>
    private static bool[]? Prunable(GradientLayout layout, string? layers)
    {
        if (layers is null)
            return null;
        var flags = new bool[layout.Tensors.Count];
        foreach (var raw in layers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var i = layout.Tensors.ToList().FindIndex(t => t.Name == raw || t.Name == raw + ".weight");
            if (i < 0)
                throw new ArgumentException($"--layers: the layout has no tensor '{raw}'; it has {string.Join(", ", layout.Names)}");
            flags[i] = true;
        }
        if (!flags.Any(f => f))
            throw new ArgumentException("--layers names no tensor");
        return flags;
    }
}
