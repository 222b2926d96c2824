using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning;
using WoodFisher.Pruning.Methods;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher prune</c>, one-shot with any method of the registry. Model mode (<c>--model M.safetensors</c>): prunes the
/// model's Linear/Conv2d weights with gradients of its own samples, evaluates dense and pruned on the test split and writes
/// the pruned model. Tensor mode (<c>--weights W.npy --grads G.npy</c>): prunes a flat weight vector with H⁻¹ built from
/// G's rows (streamed) and writes the new weights. Both can write the mask, the scores and a JSON report; options of the
/// other mode are refused. Everything is checked before any work; outputs appear together or not at all.
/// </summary>
internal sealed class PruneCommand : VerbCommand<PruneCommand.Settings>
{
    public sealed class Settings : PrunerSettings
    {
        [CommandOption("--method <NAME>"), Help("magnitude, diagfisher, kfac, woodfisher, woodtaylor or exact, with keys as name[:key=value,...] (kfac and exact need model mode)."), DefaultValue("woodfisher")]
        public string Method { get; init; } = "";

        [CommandOption("--sparsity <S>", true), Help("Target sparsity in [0, 1) of the prunable weights.")]
        public string? Sparsity { get; init; }

        [CommandOption("--weights <FILE>"), Help("Tensor mode: the weights, a (d,) float32 or float64 .npy.")]
        public string? Weights { get; init; }

        [CommandOption("--grads <FILE>"), Help(GradientFileHelp.Grads + " Tensor mode.")]
        public string? Grads { get; init; }

        [CommandOption("--layout <FILE>"), Help(GradientFileHelp.Layout + " Tensor mode.")]
        public string? Layout { get; init; }

        [CommandOption("--segments <N1,N2>"), Help(GradientFileHelp.Segments + " Tensor mode.")]
        public string? Segments { get; init; }

        [CommandOption("--normalizer <N>"), Help(GradientFileHelp.Normalizer + " Tensor mode.")]
        public double? Normalizer { get; init; }

        [CommandOption("--out <FILE>", true), Help("The pruned model (.safetensors, model mode) or weights (.npy in the input's dtype, tensor mode).")]
        public string? Out { get; init; }

        [CommandOption("--mask <FILE>"), Help("Also write the (d,) boolean mask over the pruned coordinates, true = kept.")]
        public string? Mask { get; init; }

        [CommandOption("--scores <FILE>"), Help("Also write the (d,) float64 scores (lower = pruned first).")]
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
            var methods = Methods(Method);
            if (methods.Count != 1)
                throw new UsageException($"--method: prune takes one method, got {methods.Count} ({Method})");
            var sparsity = Read("--sparsity", Sparsity!, t => Vocabulary.List(t, Vocabulary.Sparsity));
            if (sparsity.Length != 1)
                throw new UsageException($"--sparsity: prune takes one value, got {sparsity.Length} ({Sparsity})");
            return (methods[0], sparsity[0]);
        }
    }

    private static readonly string[] ModelOptions = ["--model", "--arch", "--data", "--split", "--samples", "--seed", "--layers", "--include-bias"];
    private static readonly string[] TensorOptions = ["--weights", "--grads", "--layout", "--segments", "--normalizer"];

    protected override int Run(Settings s, VerbRun run, CancellationToken cancellationToken)
    {
        if (s.Model is null && s.Weights is null)
            throw new UsageException("nothing to prune: give --model MODEL.safetensors (model mode) or --weights W.npy --grads G.npy (tensor mode)");
        var (method, sparsity) = s.Target();
        run.RefuseUnread(method);
        if (s.Weights is not null)
        {
            run.Refuse("tensor mode (--weights)", "the weights and gradients come from the files", ModelOptions);
            return TensorMode(s, run, method, sparsity);
        }
        run.Refuse("model mode (--model)", "the weights and gradients come from the model and its data", TensorOptions);
        return PruneModelMode.Run(s, run, method, sparsity);
    }

    private static int TensorMode(Settings s, VerbRun run, MethodSpec method, double sparsity)
    {
        if (method.Method.NeedsModel)
            throw new UsageException($"--method {method.Method.Name} needs the model ({method.Method.Summary}); tensor mode has only gradient rows: use magnitude, diagfisher, woodfisher or woodtaylor, or prune with --model");
        if (method.Pruning.RecomputeSteps > 1)
            throw new UsageException("--recompute: tensor mode has one set of gradients, so every step would reuse one inverse; prune in one step, or with --model to recompute gradients");
        if (method.Method.UsesCurvature && s.Grads is null)
            throw new UsageException($"--grads is required for --method {method.Method.Name} (magnitude alone needs no gradients)");
        if (!method.Method.UsesCurvature)
            run.Refuse("magnitude pruning", "it reads no gradients", "--grads", "--normalizer");
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

        IInverseCurvature inverse;
        double[]? gradient = null;
        if (s.Grads is null)
        {
            RequireTensorMemory(d, 0);
            inverse = new IdentityCurvature(d);
        }
        else
        {
            using var source = new NpyGradientSource(CliFiles.RequireFile(s.Grads), segments);
            if (source.Dimension != d)
                throw new InvalidDataException($"{s.Weights} has d = {d} weights but {s.Grads} has {source.Dimension} columns");
            if (source.Count < 1)
                throw new InvalidDataException($"{s.Grads}: holds no gradient rows");
            RequireTensorMemory(d, method.Method == PruningMethod.DiagonalFisher ? MemoryBudget.Product(d, 2 * sizeof(double))
                : WoodFisherBuilder.EstimateBytes(d, WoodFisherMethod.Options(spec, segments), source.Count));
            if (method.Method.UsesLossGradient)
            {
                using var p = CliProgress.Start($"mean gradient of {source.Count} rows", 0);
                gradient = GradientStatistics.Compute(source).Mean;
            }
            using (CliProgress.Start($"{spec.Label} from {source.Count} gradients (d = {d})", 0))
            {
                try
                {
                    inverse = method.Method.FromGradients(source, spec);
                }
                catch (NotSupportedException ex)
                {
                    throw new UsageException($"--method {method.Label}: {ex.Message}", ex);
                }
            }
        }

        PruningResult result;
        try
        {
            using (CliProgress.Start("scores, selection, update", 0))
                result = new Pruner(options).Prune(w, inverse, gradient);
        }
        finally
        {
            (inverse as IDisposable)?.Dispose();
        }
        ModelPruning.CheckResult(result, method, float32: wArray.DType == DType.Float32);

        var names = segments is null ? null : SegmentNames(s.Layout, segments.Length);
        var report = PruningReport.Create(options, result, names) with { Settings = ModelPruning.ReportSettings(method) };
        var outWeights = wArray.DType == DType.Float32
            ? NdArray.Create(Array.ConvertAll(result.Weights, v => (float)v), d)
            : NdArray.Create(result.Weights, d);
        Npy.Write(outputs.Out, outWeights);
        outputs.Write(result, report);
        PruneOutputs.Print(report, $"{d} weights of {s.Weights}", null);
        return 0;
    }

    /// <summary>Refuses a run beyond the budget before the inverse is built: its bytes plus ~64 B per weight (w, results, outputs).</summary>
    private static void RequireTensorMemory(int d, long inverseBytes) =>
        MemoryBudget.Require(MemoryBudget.Sum(inverseBytes, MemoryBudget.Product(d, 64)), $"prune: d = {d:N0} weights and their inverse curvature",
            "Use a smaller block size (--block), float32 (--precision), or fewer weights.");

    private static string[]? SegmentNames(string? layout, int count) =>
        layout is null ? null : GradientLayoutFile.ReadNames(layout) is { } n && n.Length == count ? n : null;
}
