namespace WoodFisher.Cli.Infrastructure;

/// <summary>Model-mode pruning for prune, gradual and demo: H⁻¹ from the model's own samples through <see cref="ModelCurvature"/>, with phase progress.</summary>
internal static class ModelPruning
{
    /// <summary>Largest d the CLI builds an exact Hessian for (d² float64 values and d HVPs per sample).</summary>
    public const int ExactLimit = 4096;

    /// <summary>Refuses, before any work, an exact Hessian too large to build and more samples than <paramref name="data"/> holds.</summary>
    public static void Check(MethodSpec method, ParameterSelection<float> selection, Dataset data)
    {
        if (method.Method == PruningMethod.Exact && selection.Dimension > ExactLimit)
        {
            throw new UsageException(string.Create(CultureInfo.InvariantCulture,
                $"exact: the dense Hessian of d = {selection.Dimension} weights needs {(double)selection.Dimension * selection.Dimension * 8 / 1e9:0.0} GB and {selection.Dimension} Hessian-vector products per sample; the CLI allows d ≤ {ExactLimit} (select fewer with --layers)"));
        }
        if (method.Method.UsesCurvature || method.Method.UsesLossGradient)
            CliModels.CheckSamples(method.Estimator.Samples, data, method.Estimator.MiniBatch);
    }

    /// <summary>
    /// <see cref="Check"/>s, then prints, before any work, how a WoodFisher or WoodTaylor estimate fits the memory budget
    /// (gradient chunk, blocks, scratch; in memory or two passes); refuses with the numbers when even two passes do not fit.
    /// </summary>
    public static void Plan(IModel<float> model, ParameterSelection<float> selection, Dataset data, MethodSpec method)
    {
        Check(method, selection, data);
        if (new ModelCurvature(model, selection, data.Images, data.Labels).Plan(method.Estimator) is { } plan)
            CliConsole.Note($"prune: {plan.Describe()}");
    }

    /// <summary>The pruner's options for <paramref name="method"/> at <paramref name="sparsity"/> over <paramref name="selection"/>'s layers.</summary>
    public static PrunerOptions Options(MethodSpec method, ParameterSelection<float> selection, bool biasesPrunable, double sparsity) => method.Pruning with
    {
        Sparsity = sparsity,
        Segments = selection.Segments,
        SegmentShapes = [.. selection.Entries.Select(e => e.Shape)],
        PrunableSegments = selection.Entries.Select(e => e.IsPrunable || biasesPrunable).ToArray(),
    };

    /// <summary>Prunes the selected weights of the model in place (the model ends up holding the pruned weights, checked finite).</summary>
    public static (PruningResult Result, PrunerOptions Options) Run(IModel<float> model, ParameterSelection<float> selection, bool biasesPrunable,
        Dataset data, MethodSpec method, double sparsity, bool[]? mask = null)
    {
        Check(method, selection, data);
        var curvature = new ModelCurvature(model, selection, data.Images, data.Labels);
        var options = Options(method, selection, biasesPrunable, sparsity);
        var spec = method.Estimator;
        var k = method.Pruning.RecomputeSteps;
        var update = Vocabulary.Name(options.EffectiveUpdate);
        CliProgress? phase = null;
        var step = 0;
        CurvatureFactory? factory = method.Method.UsesCurvature ? (w, kept) =>
        {
            phase?.Dispose();
            step++;
            // The damping search runs the K steps once per λ of the grid, so its estimates are counted, not numbered by step.
            var label = k < 2 ? "" : spec.Damping.IsAuto ? $" (estimate {step}, K = {k} steps per λ)" : $" (step {step}/{k})";
            CurvatureSample e;
            using (CliProgress.Start($"{spec.Label} from {spec.Samples} samples{label}", 0))
                e = curvature.Factory(spec)(w, kept);
            phase = CliProgress.Start($"scores, selection, {update} update{label}", 0);
            return e;
        }
        : null;
        try
        {
            if (factory is null)
                phase = CliProgress.Start("magnitude scores and selection", 0);
            var result = new Pruner(options).Prune(curvature.GetWeights(), factory, mask, Notes);
            CheckResult(result, method);
            curvature.SetWeights(result.Weights);
            return (result, options);
        }
        finally
        {
            phase?.Dispose();
        }
    }

    /// <summary>Refuses a result whose scores or weights (also as float32, the models' type) are not all finite.</summary>
    public static void CheckResult(PruningResult result, MethodSpec method, bool float32 = true)
    {
        Finite.Check(result.Scores, "the scores", Hint(method));
        Finite.Check(result.Weights, "the pruned weights", Hint(method));
        if (float32)
            Finite.Check(Array.ConvertAll(result.Weights, v => (double)(float)v), "the pruned weights in float32", Hint(method));
    }

    /// <summary>What to try when a method produced non-finite weights.</summary>
    public static string Hint(MethodSpec method) => method.Method.UsesLossGradient
        ? "try a smaller --taylor-step or a larger --damping"
        : "try a larger --damping";

    /// <summary>What a <see cref="PruningReport"/> records of the method's settings (none for magnitude, which reads none).</summary>
    /// <param name="method">The method and its settings.</param>
    /// <param name="dimension">d, for the block size an automatic one resolves to.</param>
    /// <param name="samples">The samples behind the gradients when they come from a file (G's rows times the layout's
    /// mini-batch); null for model mode, where <c>--samples</c> says it.</param>
    public static Pruning.PruningSettings ReportSettings(MethodSpec method, int dimension, int? samples = null)
    {
        var e = method.Estimator;
        return !method.Method.UsesCurvature
            ? new Pruning.PruningSettings { GradientStep = method.Pruning.GradientStep }
            : new Pruning.PruningSettings
            {
                Damping = e.FixedDamping,
                BlockSize = e.BlockSizeFor(dimension),
                FisherSamples = samples ?? e.Samples,
                FisherMiniBatch = e.MiniBatch,
                GradientStep = method.Pruning.GradientStep,
                Precision = e.Precision,
                Backend = e.Backend,
                Seed = e.Seed,
            };
    }

    /// <summary>The pruner's damping-search lines (each λ's criterion, the choice), written as notes as they come.</summary>
    public static IProgress<string> Notes { get; } = new NoteProgress();

    /// <summary>The λ a run used: the fixed one, or "auto: λ₁ λ₂ …" (the choice of each step that searched).</summary>
    public static string DampingText(PruningReport report) => report.DampingSearch is { Count: > 0 } search
        ? "auto: " + string.Join(' ', search.Select(c => double.IsNaN(c.Chosen) ? "-" : c.Chosen.ToString("g3", CultureInfo.InvariantCulture)))
        : report.Settings?.Damping?.ToString("g6", CultureInfo.InvariantCulture) ?? "-";

    public static string Pct(double v) => (100 * v).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    public static string Sec(double v) => v.ToString("0.00", CultureInfo.InvariantCulture);

    private sealed class NoteProgress : IProgress<string>
    {
        public void Report(string value) => CliConsole.Note(value);
    }
}
