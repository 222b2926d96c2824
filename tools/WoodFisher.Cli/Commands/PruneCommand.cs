using WoodFisher.Cli.Distributed;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher prune</c>, one-shot with any method of the registry. Model mode (<c>--model M.safetensors</c>): prunes the
/// model's Linear/Conv2d weights with gradients of its own samples, evaluates dense and pruned on the test split and writes
/// the pruned model. Layout mode (<c>--model M.safetensors --grads G.npy --layout G.json</c>): a model of any
/// architecture, its tensors named by the layout pruned from G (<see cref="PruneLayoutMode"/>). Tensor mode
/// (<c>--weights W.npy --grads G.npy</c>): prunes a flat weight vector with H⁻¹ built from G's rows (streamed) and writes
/// the new weights. All can write the mask, the scores and a JSON report; options of the other modes are refused.
/// Everything is checked before any work; outputs appear together or not at all.
/// </summary>
internal sealed class PruneCommand : VerbCommand<PruneCommand.Settings>
{
    public sealed class Settings : PrunerSettings
    {
        [CommandOption("--method <NAME>"), Help(OneMethodHelp + " (kfac and exact need model mode)."), DefaultValue("woodfisher")]
        public string Method { get; init; } = "";

        [CommandOption("--sparsity <S>"), Help("Target sparsity in [0, 1) of the prunable weights (required, except with an N:M --pattern, which sets it; with --pattern neurons, of the hidden units).")]
        public string? Sparsity { get; init; }

        [CommandOption("--weights <FILE>"), Help("Tensor mode: the weights, a (d,) float32 or float64 .npy.")]
        public string? Weights { get; init; }

        [CommandOption("--grads <FILE>"), Help(GradientFileHelp.Grads + " Tensor and layout modes.")]
        public string? Grads { get; init; }

        [CommandOption("--layout <FILE>"), Help(GradientFileHelp.Layout + " Tensor mode; with --model, layout mode: the tensors of the safetensors model to prune.")]
        public string? Layout { get; init; }

        [CommandOption("--segments <N1,N2>"), Help(GradientFileHelp.Segments + " Tensor mode.")]
        public string? Segments { get; init; }

        [CommandOption("--normalizer <N>"), Help(GradientFileHelp.Normalizer + " Tensor and layout modes.")]
        public double? Normalizer { get; init; }

        [CommandOption("--out <FILE>", true), Help("The pruned model (.safetensors, model and layout modes) or weights (.npy in the input's dtype, tensor mode).")]
        public string? Out { get; init; }

        [CommandOption("--mask <FILE>"), Help("Also write the boolean mask over the pruned coordinates, true = kept: a (d,) .npy, or in layout mode a safetensors file with one tensor per pruned tensor.")]
        public string? Mask { get; init; }

        [CommandOption("--scores <FILE>"), Help("Also write the float64 scores (lower = pruned first), shaped like --mask.")]
        public string? Scores { get; init; }

        [CommandOption("--report <FILE>"), Help("Also write a JSON report: method, settings, per-layer sparsity, seconds, accuracy (model mode).")]
        public string? Report { get; init; }

        public override Spectre.Console.ValidationResult Validate()
        {
            if (Normalizer is { } n)
                Check("--normalizer", n, Vocabulary.Positive);
            return base.Validate();
        }

        /// <summary>The one method and the one sparsity this verb takes.</summary>
        public (MethodSpec Method, double Sparsity) Target()
        {
            var method = OneMethod(Method, "prune");
            return (method, OneTarget(method.Pruning.Pattern, Sparsity, "prune", "the target sparsity in [0, 1)"));
        }
    }

    private static readonly string[] ModelOptions = ["--model", "--arch", "--data", "--split", "--samples", "--seed", "--layers", "--include-bias"];
    private static readonly string[] TensorOptions = ["--weights", "--grads", "--layout", "--segments", "--normalizer"];

    protected override int Run(Settings s, VerbRun run, CancellationToken cancellationToken)
    {
        if (s.Model is null && s.Weights is null)
            throw new UsageException("nothing to prune: give --model MODEL.safetensors (model mode; with --grads G.npy --layout G.json, layout mode) or --weights W.npy --grads G.npy (tensor mode)");
        var (method, sparsity) = s.Target();
        run.RefuseUnread(method);
        if (s.Weights is not null)
        {
            run.Refuse("tensor mode (--weights)", "the weights and gradients come from the files", ModelOptions);
            return TensorMode(s, run, method, sparsity);
        }
        if (s.Grads is not null || s.Layout is not null)
            return PruneLayoutMode.Run(s, run, method, sparsity);
        run.Refuse("model mode (--model)", "the weights and gradients come from the model and its data", TensorOptions);
        if (Ranks.World is { } world)
            return DistributedPrune.ModelMode(world, s, run, method, sparsity);
        return PruneModelMode.Run(s, run, method, sparsity);
    }

    /// <summary>What tensor and layout modes need of the method, checked before any work: gradient rows are enough, one step.</summary>
    internal static void CheckGradientMode(Settings s, VerbRun run, MethodSpec method, string mode)
    {
        if (method.Method.NeedsModel)
            throw new UsageException($"--method {method.Method.Name} needs the model ({method.Method.Summary}); {mode} has only gradient rows: use magnitude, diagfisher, woodfisher or woodtaylor, or prune a model the tool can run with --model alone");
        if (method.Method.UsesCurvature && s.Grads is null)
            throw new UsageException($"--grads is required for --method {method.Method.Name} (magnitude alone needs no gradients)");
        if (!method.Method.UsesCurvature)
            run.Refuse("magnitude pruning", "it reads no gradients", "--grads", "--normalizer");
    }

    /// <summary>Runs the library's tensor-mode pruning, turning a method that cannot take these rows into a usage error.</summary>
    internal static T Prune<T>(MethodSpec method, Func<T> prune)
    {
        try
        {
            return prune();
        }
        catch (NotSupportedException ex)
        {
            throw new UsageException($"--method {method.Label}: {ex.Message}", ex);
        }
    }

    private static int TensorMode(Settings s, VerbRun run, MethodSpec method, double sparsity)
    {
        CheckGradientMode(s, run, method, "tensor mode");
        if (Ranks.World is { } world)
            return DistributedPrune.TensorMode(world, s, run, method, sparsity);
        var outputs = PruneOutputs.Check(s, run);

        var wArray = Npy.Read(CliFiles.RequireFile(s.Weights!));
        if (wArray.Rank != 1 || wArray.DType is not (DType.Float32 or DType.Float64))
            throw new InvalidDataException($"{s.Weights}: expected a (d,) float32 or float64 array, got {wArray}");
        var w = wArray.ToFloat64();
        Finite.Check(w, s.Weights!);
        var d = w.Length;
        var segments = GradientFileHelp.ReadSegments(s.Layout, s.Segments, d);
        var spec = method.Estimator with { Normalizer = s.Normalizer };
        var options = method.Pruning with { Sparsity = sparsity, Segments = segments };

        PruningResult result;
        int? rows;
        using (var source = s.Grads is null ? null : new NpyGradientSource(CliFiles.RequireFile(s.Grads), segments))
        {
            if (source is not null && source.Dimension != d)
                throw new InvalidDataException($"{s.Weights} has d = {d} weights but {s.Grads} has {source.Dimension} columns");
            if (source is { Count: < 1 })
                throw new InvalidDataException($"{s.Grads}: holds no gradient rows");
            TensorPruning.CheckInputs(d, source, options, spec);
            if (TensorPruning.Plan(source, options, spec) is { } plan)
                CliConsole.Note($"prune: {plan.Describe()}");
            rows = source is null ? null : (int)Math.Min(int.MaxValue, source.Count);
            using (CliProgress.Start($"{spec.Label}: d = {d} weights{(source is null ? "" : $" from {source.Count} gradients")}", 0))
                result = Prune(method, () => TensorPruning.Prune(w, source, options, spec, default, ModelPruning.Notes));
        }
        ModelPruning.CheckResult(result, method, float32: wArray.DType == DType.Float32);

        var names = segments is null ? null : SegmentNames(s.Layout, segments.Length);
        var report = PruningReport.Create(options, result, names) with { Settings = ModelPruning.ReportSettings(method, result.Weights.Length, rows) };
        var outWeights = wArray.DType == DType.Float32
            ? NdArray.Create(Array.ConvertAll(result.Weights, v => (float)v), d)
            : NdArray.Create(result.Weights, d);
        Npy.Write(outputs.Out, outWeights);
        outputs.Write(result, report);
        PruneOutputs.Print(report, $"{d} weights of {s.Weights}", null);
        return 0;
    }

    private static string[]? SegmentNames(string? layout, int count) =>
        layout is null ? null : GradientLayout.Read(layout).Names is { } n && n.Length == count ? n : null;
}
