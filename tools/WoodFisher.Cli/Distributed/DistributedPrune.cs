using WoodFisher.Cli.Commands;
using WoodFisher.Distributed;

namespace WoodFisher.Cli.Distributed;

/// <summary>
/// <c>prune</c> in tensor, layout and model modes under <c>mpirun</c>, with the same command line as without: every rank
/// reads the inputs' headers and its own columns of G (<see cref="NpyColumnSlabSource"/>; in model mode, the columns
/// of the model's per-sample gradients it computes, <see cref="ColumnRangeSource"/>), builds, scores and updates
/// its cost-balanced range of blocks (<see cref="DistributedPruning"/>); the global threshold is found by all-reduces
/// (<see cref="DistributedSelection"/>); rank 0 gathers the weights, mask and scores by ranges and writes every output,
/// inside the verb's output transaction. Every step is agreed, so a failure on any rank stops all ranks with that
/// rank's message and no output.
/// </summary>
internal static class DistributedPrune
{
    /// <summary>The phases each rank reports, in <see cref="RankReport.Seconds"/> order.</summary>
    internal static readonly string[] Phases = ["gradients", "inverse", "selection", "update"];

    private sealed record Setup(PruneOutputs? Outputs, double[] Weights, PrunerOptions Options, EstimatorSpec Spec, long Rows, RankPlan Plan, IGradientSource? Slab);

    /// <summary>The samples behind G's rows for the report (rows × the samples each row averages), none without a G.</summary>
    private static int? FileSamples(Setup setup, int perRow = 1) => setup.Rows > 0 ? (int)Math.Min(int.MaxValue, setup.Rows * perRow) : null;

    /// <summary>Tensor mode (<c>--weights W.npy --grads G.npy</c>) over the ranks of <paramref name="world"/>.</summary>
    public static int TensorMode(ICommunicator world, PruneCommand.Settings s, VerbRun run, MethodSpec method, double sparsity)
    {
        RefuseStructured(method);
        RefuseAutomaticDamping(method);
        var float32 = false;
        var setup = Ranks.Agree(world, () =>
        {
            var outputs = world.Rank == 0 ? PruneOutputs.Check(s, run) : null;
            var wArray = Npy.Read(CliFiles.RequireFile(s.Weights!));
            if (wArray.Rank != 1 || wArray.DType is not (DType.Float32 or DType.Float64))
                throw new InvalidDataException($"{s.Weights}: expected a (d,) float32 or float64 array, got {wArray}");
            float32 = wArray.DType == DType.Float32;
            var w = wArray.ToFloat64();
            Finite.Check(w, s.Weights!);
            var segments = GradientFileHelp.ReadSegments(s.Layout, s.Segments, w.Length);
            var options = method.Pruning with { Sparsity = sparsity, Segments = segments };
            return Open(world, outputs, w, options, method, s.Grads, s.Normalizer);
        });
        var names = setup.Options.Segments is null || s.Layout is null ? null : GradientLayout.Read(s.Layout).Names is { } n && n.Length == setup.Options.Segments.Count ? n : null;
        return Run(world, setup, $"{setup.Weights.Length} weights of {s.Weights}", null, result =>
        {
            ModelPruning.CheckResult(result, method, float32);
            var d = result.Weights.Length;
            var outWeights = float32 ? NdArray.Create(Array.ConvertAll(result.Weights, v => (float)v), d) : NdArray.Create(result.Weights, d);
            Npy.Write(setup.Outputs!.Out, outWeights);
            if (setup.Outputs.Mask is not null)
                Npy.Write(setup.Outputs.Mask, NdArray.Create(result.Mask, d));
            if (setup.Outputs.Scores is not null)
                Npy.Write(setup.Outputs.Scores, NdArray.Create(result.Scores, d));
            return PruningReport.Create(setup.Options, result, names) with { Settings = ModelPruning.ReportSettings(method, result.Weights.Length, FileSamples(setup)) };
        });
    }

    /// <summary>Layout mode (<c>--model M.safetensors --grads G.npy --layout G.json</c>) over the ranks of <paramref name="world"/>.</summary>
    public static int LayoutMode(ICommunicator world, PruneCommand.Settings s, VerbRun run, MethodSpec method, double sparsity)
    {
        RefuseStructured(method);
        RefuseAutomaticDamping(method);
        SafeTensorsFile model = null!;
        GradientLayout layout = null!;
        var setup = Ranks.Agree(world, () =>
        {
            var outputs = world.Rank == 0 ? PruneOutputs.Check(s, run) : null;
            layout = GradientLayout.Read(CliFiles.RequireFile(s.Layout!));
            model = SafeTensors.Read(CliFiles.RequireFile(s.Model!));
            if (s.Grads is not null)
                PruneLayoutMode.CheckedSegments(layout, CliFiles.RequireFile(s.Grads));
            LayoutPruning.Check(model, layout);
            var options = method.Pruning with { Sparsity = sparsity, Segments = layout.Segments, PrunableSegments = PruneLayoutMode.Prunable(layout, s.Layers) };
            return Open(world, outputs, LayoutPruning.Gather(model, layout), options, method, s.Grads, s.Normalizer);
        });
        var rows = setup.Rows > 0 ? $"{setup.Rows} gradients" : null;
        return Run(world, setup, $"{layout.Tensors.Count} tensors of {Path.GetFileName(s.Model)}", rows, result =>
        {
            ModelPruning.CheckResult(result, method, float32: false);
            var note = string.Create(CultureInfo.InvariantCulture, $"{method.Method.Name} {setup.Options.EffectiveUpdate.ToString().ToLowerInvariant()} s={sparsity}");
            SafeTensors.Write(setup.Outputs!.Out, LayoutPruning.Scatter(model, layout, result.Weights, new Dictionary<string, string> { [LayoutPruning.MetadataKey] = note }));
            if (setup.Outputs.Mask is not null)
                SafeTensors.Write(setup.Outputs.Mask, LayoutPruning.Split<bool>(layout, result.Mask));
            if (setup.Outputs.Scores is not null)
                SafeTensors.Write(setup.Outputs.Scores, LayoutPruning.Split<double>(layout, result.Scores));
            return PruningReport.Create(setup.Options, result, layout.Names) with { Settings = ModelPruning.ReportSettings(method, result.Weights.Length, FileSamples(setup, layout.MiniBatch ?? 1)) };
        });
    }

    /// <summary>
    /// Model mode (<c>--model M --data DIR</c>): every rank loads the model and data and computes the per-sample gradients
    /// of the same samples, keeping only its columns. Recomputing the rows costs each rank the gradient passes (for the
    /// built-in models a small part of building c-wide blocks from them), where sharing the samples would move all of G
    /// (m × d floats) between the ranks; and the rows are the single-process run's, bit for bit. Rank 0 evaluates the
    /// dense and the pruned model and writes the outputs. Methods that need the loss gradient or the whole model's
    /// curvature at once (woodtaylor, kfac, exact) and --recompute are refused.
    /// </summary>
    public static int ModelMode(ICommunicator world, PruneCommand.Settings s, VerbRun run, MethodSpec method, double sparsity)
    {
        RefuseStructured(method);
        IModel<float> model = null!;
        ModelCurvature curvature = null!;
        var setup = Ranks.Agree(world, () =>
        {
            if (method.Method.UsesLossGradient || method.Method == PruningMethod.Kfac || method.Method == PruningMethod.Exact || method.Pruning.RecomputeSteps > 1)
                throw new UsageException($"{method.Label}{(method.Pruning.RecomputeSteps > 1 ? " with --recompute" : "")} does not run under mpirun in model mode: use magnitude, diagfisher or woodfisher, or run without mpirun");
            RefuseAutomaticDamping(method);
            var outputs = world.Rank == 0 ? PruneOutputs.Check(s, run) : null;
            model = CliModels.Load(s.Model, s.Arch);
            var selection = CliModels.Select(model, s.Layers, s.IncludeBias);
            var data = CliModels.LoadData(s.Data, s.Split);
            CliModels.CheckFits(model, data);
            ModelPruning.Check(method, selection, data);
            curvature = new ModelCurvature(model, selection, data.Images, data.Labels);
            var options = ModelPruning.Options(method, selection, s.IncludeBias, sparsity);
            // The per-sample source averages each mini-batch into one row, as model mode does without mpirun.
            var spec = method.Estimator with { MiniBatch = 1 };
            PerSampleGradientSource? rows = null;
            if (method.Method.UsesCurvature)
            {
                var (x, y) = curvature.Subset(Math.Min(method.Estimator.Samples, curvature.SampleCount), method.Estimator.Seed);
                rows = new PerSampleGradientSource(model, x, y, y.Length, selection, method.Estimator.MiniBatch);
            }

            var plan = DistributedPruning.Plan(selection.Dimension, rows?.Count ?? 0, world.Size, options, spec);
            var range = plan[world.Rank];
            var mine = rows is null || range.IsEmpty ? null : new ColumnRangeSource(rows, range.Start, range.Length, range.Segments(plan.Layout));
            return new Setup(outputs, curvature.GetWeights(), options, spec, rows?.Count ?? 0, plan, mine);
        });
        var samples = method.Method.UsesCurvature ? $"{method.Estimator.Samples} samples of {s.Split}" : null;
        return Run(world, setup, model.Spec, samples, result =>
        {
            ModelPruning.CheckResult(result, method);
            var test = CliModels.LoadData(s.Data, "test");
            EvaluationResult dense;
            using (CliProgress.Start($"dense evaluation on {test.Count} test samples", 0))
                dense = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
            curvature.SetWeights(result.Weights);
            EvaluationResult pruned;
            using (CliProgress.Start($"pruned evaluation on {test.Count} test samples", 0))
                pruned = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
            ModelFiles.Save(model, setup.Outputs!.Out, new Dictionary<string, string>
            {
                ["woodfisher.pruning"] = $"{method.Label} {Vocabulary.Name(setup.Options.EffectiveUpdate)} {setup.Options.Pattern} s={sparsity.ToString(CultureInfo.InvariantCulture)}",
            });
            var d = result.Mask.Length;
            if (setup.Outputs.Mask is not null)
                Npy.Write(setup.Outputs.Mask, NdArray.Create(result.Mask, d));
            if (setup.Outputs.Scores is not null)
                Npy.Write(setup.Outputs.Scores, NdArray.Create(result.Scores, d));
            return PruningReport.Create(setup.Options, result, [.. curvature.Selection.Entries.Select(e => e.Name)]) with
            {
                Method = method.Label,
                Dense = new PruningMetrics { Accuracy = dense.Accuracy, Loss = dense.Loss },
                Pruned = new PruningMetrics { Accuracy = pruned.Accuracy, Loss = pruned.Loss },
                Settings = ModelPruning.ReportSettings(method, result.Weights.Length),
            };
        });
    }

    /// <summary>
    /// The global threshold is over single coordinates; a structured pattern (N:M, blocks, neurons) scores groups that
    /// may cross a rank's range, so it is refused, the same on every rank.
    /// </summary>
    private static void RefuseStructured(MethodSpec method)
    {
        if (method.Pruning.Pattern.IsStructured)
            throw new UsageException($"--pattern {method.Pruning.Pattern} does not run under mpirun (the ranks select single weights): run it without mpirun");
    }

    /// <summary>
    /// Automatic damping judges each λ of its grid by the whole pruned result (held-out rows of all of G, or the pruned
    /// model's loss), which no rank holds; rather than prune with another λ than a run without mpirun would, a fixed λ is
    /// asked for, the same on every rank.
    /// </summary>
    private static void RefuseAutomaticDamping(MethodSpec method)
    {
        if (method.Method.UsesCurvature && method.Estimator.Damping.IsAuto)
            throw new UsageException("--damping auto (the default) does not run under mpirun (each λ is judged on the whole pruned result): give a fixed --damping, e.g. the λ a run without mpirun chooses");
    }

    /// <summary>Reads G's header, makes the plan and opens this rank's slab of G (inside the agreed setup step).</summary>
    private static Setup Open(ICommunicator world, PruneOutputs? outputs, double[] w, PrunerOptions options, MethodSpec method, string? grads, double? normalizer)
    {
        var d = w.Length;
        var spec = method.Estimator with { Normalizer = normalizer };
        long rows = 0;
        if (grads is not null)
        {
            using var reader = new NpyRowReader(CliFiles.RequireFile(grads));
            if (reader.Columns != d)
                throw new InvalidDataException($"the weights have d = {d} but {grads} has {reader.Columns} columns");
            if (reader.Rows < 1)
                throw new InvalidDataException($"{grads}: holds no gradient rows");
            rows = reader.Rows;
        }

        var plan = DistributedPruning.Plan(d, rows, world.Size, options, spec);
        var range = plan[world.Rank];
        var slab = grads is null || range.IsEmpty ? null : new NpyColumnSlabSource(grads, range.Start, range.Length, range.Segments(plan.Layout));
        return new Setup(outputs, w, options, spec, rows, plan, slab);
    }

    /// <summary>
    /// The sharded run: prune, gather on rank 0, gather the ranks' reports; then rank 0 checks and writes the outputs
    /// (<paramref name="write"/> returns the report) and prints the summary, an agreed step like the others.
    /// </summary>
    private static int Run(ICommunicator world, Setup setup, string what, string? samples, Func<PruningResult, PruningReport> write)
    {
        using var slab = setup.Slab as IDisposable;
        var plan = setup.Plan;
        var range = plan[world.Rank];
        var d = plan.Layout.Dimension;
        if (world.Rank == 0)
            RankLines.Plan(world, plan, setup.Rows);
        RankPruningResult local;
        using (world.Rank == 0 ? CliProgress.Start($"{setup.Spec.Label}: d = {d} weights{(setup.Rows > 0 ? $" from {setup.Rows} gradients" : "")} on {world.Size} ranks", 0) : null)
            local = DistributedPruning.Prune(world, plan, setup.Weights.AsSpan(range.Start, range.Length), setup.Slab, setup.Options, setup.Spec);
        var result = DistributedPruning.Gather(world, plan, local, setup.Options);
        var t = local.Timings;
        var reports = RankReport.Gather(world, range, local.InverseBytes, (setup.Slab as NpyColumnSlabSource)?.Slab.Bytes ?? 0, Phases, [t.Gradients, t.Inverse, t.Selection, t.Update]);
        Ranks.Agree(world, () =>
        {
            if (world.Rank != 0)
                return 0;
            RankLines.Print(reports);
            var report = write(result!);
            if (setup.Outputs!.Report is not null)
                CliFiles.WriteText(setup.Outputs.Report, RankLines.WithRanks(report.ToJson(), world, reports, local.Selection));
            PruneOutputs.Print(report, what, samples);
            return 0;
        });
        return 0;
    }
}
