using System.ComponentModel;
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher prune</c>. Tensor mode (<c>--weights W.npy --grads G.npy</c>): prunes a flat weight vector with H⁻¹ built
/// from the gradient rows of G (streamed) and writes the new weights, the mask and optionally the scores as .npy.
/// Model mode (<c>--model M.safetensors</c>): prunes a model's Linear/Conv2d weights with gradients from the training
/// split, evaluates dense and pruned on the test split, writes the pruned model and optionally a JSON report.
/// Everything is validated before anything is written; outputs are written atomically.
/// </summary>
internal sealed class PruneCommand : Command<PruneCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--weights <W>")]
        [Description("Tensor mode: weights, a (d,) float32/float64 .npy.")]
        public string? Weights { get; init; }

        [CommandOption("--grads <G>")]
        [Description("Tensor mode: per-sample gradients, an (m, d) .npy (streamed).")]
        public string? Grads { get; init; }

        [CommandOption("--segments <N1,N2>")]
        [Description("Tensor mode: segment (layer) lengths summing to d; blocks restart at each.")]
        public string? Segments { get; init; }

        [CommandOption("--normalizer <N>")]
        [Description("Tensor mode: Fisher normalizer N (default: the number of gradient rows).")]
        public double? Normalizer { get; init; }

        [CommandOption("--selection <MODE>")]
        [Description("Tensor mode: global (default) or layerwise.")]
        public string Selection { get; init; } = "global";

        [CommandOption("--out-weights <PATH>")]
        public string? OutWeights { get; init; }

        [CommandOption("--out-mask <PATH>")]
        [Description("Boolean (d,) mask, true = kept.")]
        public string? OutMask { get; init; }

        [CommandOption("--out-scores <PATH>")]
        public string? OutScores { get; init; }

        [CommandOption("--model <MODEL>")]
        [Description("Model mode: a .safetensors model (arch from its metadata, --arch, or recognised MLP names).")]
        public string? Model { get; init; }

        [CommandOption("--arch <SPEC>")]
        [Description("Model spec, e.g. mlp:784-300-100-10.")]
        public string? Arch { get; init; }

        [CommandOption("--data <DIR>")]
        [Description("Fashion-MNIST IDX directory (default: WOODFISHER_DATA, the system copy, or the embedded slice).")]
        public string? Data { get; init; }

        [CommandOption("--sparsity <S>")]
        [Description("Target sparsity in [0, 1).")]
        public double? Sparsity { get; init; }

        [CommandOption("--method <METHOD>")]
        [Description("woodfisher (default), woodtaylor, diagfisher, magnitude; model mode also kfac, magnitude-layerwise, exact.")]
        public string Method { get; init; } = "woodfisher";

        [CommandOption("--update <MODE>")]
        [Description("joint (default), independent or none.")]
        public string Update { get; init; } = "joint";

        [CommandOption("--block <C>")]
        [Description("WoodFisher block size c (default 100).")]
        public int Block { get; init; } = 100;

        [CommandOption("--damping <LAMBDA>")]
        [Description("Damping λ > 0, or auto (default): chosen per step from 1e-7..1e-1 (model mode: calibration loss; tensor mode: held-out gradient rows).")]
        public string Damping { get; init; } = "auto";

        [CommandOption("--fisher-samples <M>")]
        public int FisherSamples { get; init; } = 1000;

        [CommandOption("--fisher-minibatch <B>")]
        public int FisherMiniBatch { get; init; } = 1;

        [CommandOption("--recompute <K>")]
        [Description("One-shot recompute steps K (default 1).")]
        public int Recompute { get; init; } = 1;

        [CommandOption("--stepping <MODE>")]
        [Description("cubic (default) or linear sparsity steps over K.")]
        public string Stepping { get; init; } = "cubic";

        [CommandOption("--layers <NAMES>")]
        [Description("Comma-separated layers to prune (fc1 or fc1.weight); default every Linear/Conv2d weight.")]
        public string? Layers { get; init; }

        [CommandOption("--include-bias")]
        [Description("Also prune the biases of the selected layers.")]
        public bool IncludeBias { get; init; }

        [CommandOption("--backend <B>")]
        public string Backend { get; init; } = "auto";

        [CommandOption("--strategy <S>")]
        [Description("WoodFisher inverse: auto (default), rank1, rankk or dense.")]
        public string Strategy { get; init; } = "auto";

        [CommandOption("--precision <P>")]
        [Description("f32 (default) or f64 storage of the WoodFisher inverse.")]
        public string Precision { get; init; } = "f32";

        [CommandOption("--seed <SEED>")]
        [Description("Draw the Fisher samples by this seed (default: the first samples).")]
        public int? Seed { get; init; }

        [CommandOption("--taylor-step <ETA>")]
        [Description("WoodTaylor: fraction η of the Newton term H⁻¹g used (1 = the paper's, 0 = OBS; default: chosen with λ from 0, 0.001, 0.01, 0.1, 1).")]
        public double? TaylorStep { get; init; }

        [CommandOption("--out <PATH>")]
        [Description("Model mode: the pruned model (.safetensors).")]
        public string? Out { get; init; }

        [CommandOption("--report <PATH>")]
        [Description("Model mode: a JSON pruning report.")]
        public string? Report { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Model is not null && settings.Weights is not null)
            throw new ArgumentException("give either --model (model mode) or --weights/--grads (tensor mode), not both");
        if (settings.Model is not null)
            return ModelMode(settings);
        if (settings.Weights is not null)
            return TensorMode(settings);
        throw new ArgumentException("nothing to prune: give --model MODEL.safetensors or --weights W.npy --grads G.npy");
    }

    private static int TensorMode(Settings s)
    {
        var method = CliMethod.Parse(s.Method, ["woodfisher", "woodtaylor", "diagfisher", "magnitude"]);
        var update = CliParse.Update(s.Update);
        var selection = CliParse.Selection(s.Selection);
        var precision = CliParse.Precision(s.Precision);
        var backend = CliParse.Backend(s.Backend);
        var strategy = CurvatureSettings.ParseStrategy(s.Strategy);
        var sparsity = s.Sparsity ?? throw new ArgumentException("--sparsity is required");
        CliParse.Sparsity(sparsity);
        var damping = CliParse.Damping(s.Damping);
        CliParse.Positive(s.Block, "--block");
        CliParse.Positive(s.Recompute, "--recompute");
        if (s.TaylorStep is { } eta)
            CliParse.TaylorStep(eta);
        if (s.Normalizer is { } nrm && !(nrm > 0 && double.IsFinite(nrm)))
            throw new ArgumentException($"--normalizer must be positive, got {nrm.ToString(CultureInfo.InvariantCulture)}");
        if (s.OutWeights is null || s.OutMask is null)
            throw new ArgumentException("tensor mode needs --out-weights and --out-mask");
        if (s.Grads is null && method.Method != PruningMethod.Magnitude)
            throw new ArgumentException($"--grads is required for method {method.Name}");
        CliParse.Outputs(s.OutWeights, s.OutMask, s.OutScores);

        var wArray = Npy.Read(CliFiles.RequireFile(s.Weights!));
        if (wArray.Rank != 1 || wArray.DType is not (DType.Float32 or DType.Float64))
            throw new InvalidDataException($"{s.Weights}: expected a (d,) float32 or float64 array, got {wArray}");
        var w = wArray.ToFloat64();
        var d = w.Length;
        int[]? segments = null;
        if (s.Segments is not null)
        {
            segments = s.Segments.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(t => int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : throw new ArgumentException($"--segments: '{t}' is not an integer"))
                .ToArray();
            if (segments.Any(v => v < 1) || segments.Sum(v => (long)v) != d)
                throw new ArgumentException($"--segments must be positive and sum to d = {d}, got {s.Segments}");
        }

        var options = new PrunerOptions
        {
            Method = method.Method,
            Update = update,
            Sparsity = sparsity,
            Selection = selection,
            Segments = segments,
            RecomputeSteps = s.Recompute,
            Stepping = CliParse.Stepping(s.Stepping),
            GradientStep = s.TaylorStep ?? 1,
            GradientStepGrid = s.TaylorStep is null ? PrunerOptions.DefaultGradientSteps : null,
        };

        PruningResult result;
        if (s.Grads is null)
        {
            result = new Pruner(options).Prune(w, new IdentityCurvature(d));
        }
        else
        {
            using var source = new NpyGradientSource(CliFiles.RequireFile(s.Grads), segments);
            if (source.Dimension != d)
                throw new ArgumentException($"{s.Weights} has d = {d} weights but {s.Grads} has {source.Dimension} columns");
            if (source.Count < 1)
                throw new InvalidDataException($"{s.Grads}: holds no gradient rows");
            // Each recompute step rebuilds the estimate from the gradients of the surviving weights.
            var curvature = new GradientCurvature(source, EstimatorSpec.ForMethod(method.Method), new WoodFisherOptions
            {
                BlockSize = s.Block,
                Normalizer = s.Normalizer,
                Segments = segments,
                Precision = precision,
                Backend = backend,
                Strategy = strategy,
            }, damping);
            using (CliProgress.Start($"{method.Name} from {source.Count} gradients (d = {d}, λ {damping})", 0))
                result = new Pruner(options).Prune(w, curvature.Factory(method.Method == PruningMethod.WoodTaylor), default, ModelPruning.Notes);
        }

        // Serialise everything first, so a failure leaves no partial set of outputs.
        var outWeights = wArray.DType == DType.Float32
            ? NdArray.Create(Array.ConvertAll(result.Weights, v => (float)v), d)
            : NdArray.Create(result.Weights, d);
        var files = new List<(string Path, byte[] Bytes)>
        {
            (s.OutWeights, NpyBytes(outWeights)),
            (s.OutMask, NpyBytes(NdArray.Create(result.Mask, d))),
        };
        if (s.OutScores is not null)
            files.Add((s.OutScores, NpyBytes(NdArray.Create(result.Scores, d))));
        foreach (var (path, bytes) in files)
            AtomicFile.WriteAllBytes(path, bytes);

        var kept = result.Mask.Count(k => k);
        CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
            $"method\t{method.Name}\nupdate\t{update.ToString().ToLowerInvariant()}\nd\t{d}\npruned\t{d - kept}\nsparsity\t{result.Sparsity:0.######}\ndamping\t{Chosen(result, damping)}\nseconds\t{result.Timings.Total:0.###}"));
        return 0;
    }

    private static string DampingText(PruningReport r) => r.DampingSearch is { } search && !double.IsNaN(search[0].Chosen)
        ? "auto: " + string.Join(' ', search.Select(c => c.Chosen.ToString("g3", CultureInfo.InvariantCulture)))
        : r.Settings?.Damping?.ToString("g6", CultureInfo.InvariantCulture) ?? "-";

    /// <summary>The λ used: the fixed one, or "auto: λ₁ λ₂ …" (the choice of each recompute step).</summary>
    internal static string Chosen(PruningResult result, Damping damping) =>
        damping.IsAuto
            ? "auto: " + string.Join(' ', result.Steps.Select(st => st.Damping is { } c ? c.Chosen.ToString("g3", CultureInfo.InvariantCulture) : "-"))
            : damping.ToString();

    private static byte[] NpyBytes(NdArray array)
    {
        using var ms = new MemoryStream();
        Npy.Write(ms, array);
        return ms.ToArray();
    }

    private static int ModelMode(Settings s)
    {
        var method = CliMethod.Parse(s.Method);
        var prune = new ModelPruneSettings
        {
            Method = method,
            Update = CliParse.Update(s.Update),
            Sparsity = s.Sparsity ?? throw new ArgumentException("--sparsity is required"),
            BlockSize = s.Block,
            Damping = CliParse.Damping(s.Damping),
            FisherSamples = s.FisherSamples,
            FisherMiniBatch = s.FisherMiniBatch,
            Recompute = s.Recompute,
            Stepping = CliParse.Stepping(s.Stepping),
            Backend = CliParse.Backend(s.Backend),
            Strategy = CurvatureSettings.ParseStrategy(s.Strategy),
            Precision = CliParse.Precision(s.Precision),
            Seed = s.Seed,
            GradientStep = s.TaylorStep,
        };
        prune.Validate();
        if (s.Out is null)
            throw new ArgumentException("model mode needs --out PRUNED.safetensors");
        CliParse.Outputs(s.Out, s.Report);

        var model = CliModels.Load(s.Model, s.Arch);
        var selection = Select(model, s.Layers, s.IncludeBias);
        ModelPruning.CheckFits(prune, selection);
        var train = DataSets.Load(s.Data, "train");
        var test = DataSets.Load(s.Data, "test");
        CheckData(model, train);
        prune.CheckSamples(train.Count);

        EvaluationResult dense;
        using (CliProgress.Start($"dense evaluation on {test.Count} test samples", 0))
            dense = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
        var (result, options) = ModelPruning.Run(model, selection, s.IncludeBias, train, prune);
        EvaluationResult pruned;
        using (CliProgress.Start($"pruned evaluation on {test.Count} test samples", 0))
            pruned = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);

        var report = PruningReport.Create(options, result, selection.Entries.Select(e => e.Name).ToArray()) with
        {
            Method = method.Name,
            Dense = new PruningMetrics { Accuracy = dense.Accuracy, Loss = dense.Loss },
            Pruned = new PruningMetrics { Accuracy = pruned.Accuracy, Loss = pruned.Loss },
            Settings = prune.ReportSettings(),
        };
        ModelFiles.Save(model, s.Out, new Dictionary<string, string>
        {
            ["woodfisher.pruning"] = $"{method.Name} {prune.Update.ToString().ToLowerInvariant()} s={prune.Sparsity.ToString(CultureInfo.InvariantCulture)}",
        });
        if (s.Report is not null)
            CliFiles.WriteText(s.Report, report.ToJson());
        PrintReport(report, model.Spec, train.Count, prune.Estimator(train.Count).Samples);
        return 0;
    }

    /// <summary>The parameters to prune: every Linear/Conv2d weight, or the named layers (fc1 or fc1.weight), with biases on request.</summary>
    internal static ParameterSelection<float> Select(IModel<float> model, string? layers, bool includeBias)
    {
        if (layers is null)
            return ParameterSelection<float>.Prunable(model, includeBias);
        var names = new List<string>();
        foreach (var raw in layers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var weight = model.Parameters.FirstOrDefault(p => p.IsPrunable && (p.Name == raw || p.Name == raw + ".weight"))
                ?? throw new ArgumentException($"unknown layer '{raw}'; prunable layers of {model.Spec}: {string.Join(", ", model.Parameters.Where(p => p.IsPrunable).Select(p => p.Name))}");
            names.Add(weight.Name);
            if (includeBias)
            {
                var bias = model.Parameters.FirstOrDefault(p => !p.IsPrunable && p.WeightOfLayer == weight);
                if (bias is not null)
                    names.Add(bias.Name);
            }
        }
        if (names.Count == 0)
            throw new ArgumentException("--layers names no layer");
        return ParameterSelection<float>.ByNames(model, names);
    }

    internal static void CheckData(IModel<float> model, Dataset data)
    {
        var features = model.InputShape.Aggregate(1, (a, b) => a * b);
        if (features != data.Features)
            throw new ArgumentException($"model {model.Spec} takes {features} inputs per sample but {data.Name} has {data.Features}");
    }

    private static void PrintReport(PruningReport r, string arch, int trainCount, int samples)
    {
        var sec = r.Seconds;
        var dense = r.Dense!;
        var pruned = r.Pruned!;
        if (CliConsole.IsInteractive)
        {
            var table = new Table().Title(Markup.Escape($"{arch}: {r.Method} ({r.Update.ToString().ToLowerInvariant()} update), {samples} of {trainCount} training samples"));
            table.AddColumn("layer");
            table.AddColumn(new TableColumn("size").RightAligned());
            table.AddColumn(new TableColumn("sparsity").RightAligned());
            foreach (var l in r.Layers)
                table.AddRow(Markup.Escape(l.Name), l.Size.ToString(CultureInfo.InvariantCulture), l.Prunable ? ModelPruning.Pct(l.Sparsity) : "(kept)");
            table.AddRow("[bold]total[/]", r.Layers.Where(l => l.Prunable).Sum(l => l.Size).ToString(CultureInfo.InvariantCulture), ModelPruning.Pct(r.AchievedSparsity));
            CliConsole.Render(table);
            CliConsole.Line($"test accuracy {ModelPruning.Pct(dense.Accuracy ?? 0)} → {ModelPruning.Pct(pruned.Accuracy ?? 0)}, loss {dense.Loss:0.0000} → {pruned.Loss:0.0000}");
            CliConsole.Line($"damping {DampingText(r)}");
            CliConsole.Line($"seconds: gradients {ModelPruning.Sec(sec.Gradients)}, inverse {ModelPruning.Sec(sec.Inverse)}, selection {ModelPruning.Sec(sec.Selection)}, update {ModelPruning.Sec(sec.Update)}, total {ModelPruning.Sec(sec.Total)}");
            return;
        }
        var inv = CultureInfo.InvariantCulture;
        CliConsole.Line($"method\t{r.Method}");
        CliConsole.Line($"update\t{r.Update.ToString().ToLowerInvariant()}");
        CliConsole.Line(string.Create(inv, $"sparsity\t{r.AchievedSparsity:0.######}\ttarget\t{r.TargetSparsity:0.######}"));
        foreach (var l in r.Layers)
            CliConsole.Line(string.Create(inv, $"layer\t{l.Name}\t{l.Size}\t{l.Sparsity:0.######}"));
        CliConsole.Line(string.Create(inv, $"accuracy\t{dense.Accuracy:0.0000}\t{pruned.Accuracy:0.0000}"));
        CliConsole.Line(string.Create(inv, $"loss\t{dense.Loss:0.0000}\t{pruned.Loss:0.0000}"));
        CliConsole.Line($"damping\t{DampingText(r)}");
        CliConsole.Line(string.Create(inv, $"seconds\tgradients={sec.Gradients:0.###}\tinverse={sec.Inverse:0.###}\tselection={sec.Selection:0.###}\tupdate={sec.Update:0.###}\ttotal={sec.Total:0.###}"));
    }
}
