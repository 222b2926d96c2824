using WoodFisher.Cli.Distributed;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher prune --model M.safetensors --grads G.npy --layout G.json --sparsity S --out P.safetensors</c>: a model
/// of any architecture. The layout's tensors are pruned (<see cref="LayoutPruning"/>), every other tensor is copied
/// unchanged; per-tensor sparsity is printed and, with <c>--report</c>, written as JSON. Masks and scores, when asked
/// for, are safetensors files with one tensor per pruned tensor (same names and shapes).
/// </summary>
internal static class PruneLayoutMode
{
    private const string Mode = "layout mode (--model with --grads and --layout)";
    private static readonly string[] NotHere = ["--arch", "--data", "--split", "--samples", "--seed", "--include-bias", "--weights", "--segments"];

    public static int Run(PruneCommand.Settings s, VerbRun run, MethodSpec method, double sparsity)
    {
        run.Refuse(Mode, "the weights come from the safetensors file and the gradients from G", NotHere);
        if (s.Layout is null)
            throw new UsageException("--layout is required with --model and --grads: the layout JSON of G's columns (what grads --layout writes)");
        PruneCommand.CheckGradientMode(s, run, method, Mode);
        if (Ranks.World is { } world)
            return DistributedPrune.LayoutMode(world, s, run, method, sparsity);
        var outputs = PruneOutputs.Check(s, run);

        var layout = GradientLayout.Read(CliFiles.RequireFile(s.Layout));
        var model = SafeTensors.Read(CliFiles.RequireFile(s.Model!));
        var options = method.Pruning with { Sparsity = sparsity, PrunableSegments = Prunable(layout, s.Layers), SegmentShapes = [.. layout.Tensors.Select(t => t.Shape.ToArray())] };
        var spec = method.Estimator with { Normalizer = s.Normalizer };

        using var gradients = s.Grads is null ? null : new NpyGradientSource(CliFiles.RequireFile(s.Grads), CheckedSegments(layout, s.Grads));
        LayoutPruning.Check(model, layout, gradients);
        TensorPruning.CheckInputs(layout.Dimension, gradients, options with { Segments = layout.Segments }, spec);
        if (TensorPruning.Plan(gradients, options with { Segments = layout.Segments }, spec) is { } plan)
            CliConsole.Note($"prune: {plan.Describe()}");
        var rows = gradients is null ? null : $"{gradients.Count} gradients";
        LayoutPruningResult result;
        using (CliProgress.Start($"{spec.Label}: {layout.Tensors.Count} tensors (d = {layout.Dimension}){(rows is null ? "" : " from " + rows)}", 0))
            result = PruneCommand.Prune(method, () => LayoutPruning.Prune(model, layout, gradients, options, spec, ModelPruning.Notes));
        ModelPruning.CheckResult(result.Result, method, float32: false);

        var report = result.Report with { Settings = ModelPruning.ReportSettings(method, result.Result.Weights.Length, result.Report.Settings?.FisherSamples) };
        SafeTensors.Write(outputs.Out, result.Model);
        if (outputs.Mask is not null)
            SafeTensors.Write(outputs.Mask, LayoutPruning.Split<bool>(layout, result.Result.Mask));
        if (outputs.Scores is not null)
            SafeTensors.Write(outputs.Scores, LayoutPruning.Split<double>(layout, result.Result.Scores));
        if (outputs.Report is not null)
            CliFiles.WriteText(outputs.Report, report.ToJson());
        PruneOutputs.Print(report, $"{layout.Tensors.Count} tensors of {Path.GetFileName(s.Model)}", rows);
        return 0;
    }

    /// <summary>G's columns must match the layout before the source is opened with its segments.</summary>
    internal static int[] CheckedSegments(GradientLayout layout, string grads)
    {
        using var reader = new NpyRowReader(grads);
        layout.CheckGradients(reader.Rows, reader.Columns, grads);
        return layout.Segments;
    }

    /// <summary>Every layout tensor, or those named by <c>--layers</c> (fc1 or fc1.weight); the others stay dense.</summary>
    internal static bool[]? Prunable(GradientLayout layout, string? layers)
    {
        if (layers is null)
            return null;
        var flags = new bool[layout.Tensors.Count];
        foreach (var raw in layers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var i = layout.Tensors.ToList().FindIndex(t => t.Name == raw || t.Name == raw + ".weight");
            if (i < 0)
                throw new UsageException($"--layers: the layout has no tensor '{raw}'; it has {string.Join(", ", layout.Names)}");
            flags[i] = true;
        }
        return flags;
    }
}
