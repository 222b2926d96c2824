using System.Text;
using Spectre.Console;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher demo</c>: trains a small MLP on Fashion-MNIST (the full set when installed, else the embedded slice),
/// prunes it one-shot with several methods and prints test accuracy (in percent throughout), loss and seconds per method.
/// <c>--method all --sparsity 0.8,0.9,0.95</c> is the full comparison; <c>--quick</c> runs in seconds.
/// </summary>
internal sealed class DemoCommand : VerbCommand<DemoCommand.Settings>
{
    public const string DefaultArch = "mlp:784-40-20-10:nobias";
    public const string QuickArch = "mlp:784-16-10:nobias";

    /// <summary>The methods compared by default: magnitude, WoodFisher independent and joint, joint in 4 recompute steps.</summary>
    public const string DefaultSet = "magnitude,woodfisher:update=independent,woodfisher,woodfisher:recompute=4";

    /// <summary>Every method of the registry that fits a demo-sized model, plus layer-wise magnitude and the variants above.</summary>
    public const string AllSet = "magnitude,magnitude:selection=layerwise,diagfisher,kfac,woodfisher:update=independent,woodfisher,woodtaylor,woodfisher:recompute=4";

    public sealed class Settings : TrainingSettings
    {
        [CommandOption("--quick"), Help("A tiny model (" + QuickArch + "), 500 training and 300 test samples, 100 gradients, 2 epochs: seconds (for tests).")]
        public bool Quick { get; init; }

        [CommandOption("--method <LIST>"), Help("Methods to compare, comma-separated name[:key=value,...]; 'default' (" + DefaultSet + ") or 'all' (" + AllSet + ")."), DefaultValue("default")]
        public string Method { get; init; } = "";

        [CommandOption("--sparsity <LIST>"), Help("Target sparsities, comma-separated, each in [0, 1); with --pattern N:M its own (M-N)/M, and not given."), DefaultValue("0.9")]
        public string Sparsity { get; init; } = "";

        [CommandOption("--out <FILE>"), Help("Save the trained dense model (.safetensors).")]
        public string? Out { get; init; }

        [CommandOption("--report <FILE>"), Help("Also write the table as Markdown.")]
        public string? Report { get; init; }

        public override Spectre.Console.ValidationResult Validate()
        {
            Read("--sparsity", Sparsity, t => Vocabulary.List(t, Vocabulary.Sparsity));
            return base.Validate();
        }
    }

    internal sealed record Row(double Target, MethodSpec Method, double Achieved, double Accuracy, double Loss, PhaseTimings Seconds, string? Error)
    {
        /// <summary>The update as applied, with the recompute steps and WoodTaylor's η when they are not the defaults.</summary>
        public string UpdateLabel =>
            Vocabulary.Name(Method.Pruning.EffectiveUpdate)
            + (Method.Pruning.RecomputeSteps > 1 ? $", K={Method.Pruning.RecomputeSteps} {Method.Pruning.Stepping.ToString().ToLowerInvariant()}" : "")
            + (Method.Pruning.Selection == Pruning.SelectionMode.LayerwiseUniform ? ", layerwise" : "")
            + (Method.Method.UsesLossGradient && Method.Pruning.GradientStep != 1 ? string.Create(CultureInfo.InvariantCulture, $", η={Method.Pruning.GradientStep:g3}") : "");
    }

    protected override int Run(Settings s, VerbRun run, CancellationToken cancellationToken)
    {
        if (s.Model is not null)
            run.Refuse("a given --model", "it is pruned as trained", "--arch", "--epochs", "--batch", "--lr", "--momentum", "--nesterov", "--weight-decay", "--schedule", "--out");
        var pattern = s.Pruner().Pattern;
        var sparsities = pattern.Kind == PatternKind.NofM
            ? [PrunerSettings.OneTarget(pattern, run.Given("--sparsity") ? s.Sparsity : null, "demo", "target sparsities")]
            : VerbSettings.Read("--sparsity", s.Sparsity, t => Vocabulary.List(t, Vocabulary.Sparsity));
        var expanded = string.Join(',', s.Method.Split(',', StringSplitOptions.TrimEntries).Select(t => t.ToLowerInvariant() switch { "default" => DefaultSet, "all" => AllSet, _ => t }));
        var estimator = s.Estimator(PruningMethod.WoodFisher) with { Samples = run.Given("--samples") || !s.Quick ? s.Samples : 100 };
        var methods = VerbSettings.Read("--method", expanded, t => MethodSpec.ParseList(t, estimator, s.Pruner()));
        var epochs = s.Epochs ?? (s.Quick ? 2 : 10);
        var outPath = run.Outputs.File("--out", s.Out);
        var report = run.Outputs.File("--report", s.Report);

        var pending = CliModels.LoadDataInBackground(s.Data, "train");
        var test = CliModels.LoadData(s.Data, "test");
        var train = CliModels.Take(pending(), s.TrainSamples ?? (s.Quick ? 500 : null), "--train-samples");
        var data = s.Split == "train" ? train : CliModels.LoadData(s.Data, s.Split);
        if (s.Quick)
            test = test.Take(Math.Min(300, test.Count));
        CliModels.CheckSamples(estimator.Samples, data);
        CliConsole.Note($"data: {Models.Data.DataSets.DescribeSource(s.Data, "train")} ({train.Count} train, {test.Count} test samples)");

        var model = s.Model is not null ? CliModels.Load(s.Model, s.Arch) : Train(s, train, epochs);
        CliModels.CheckFits(model, train);
        if (outPath is not null)
            ModelFiles.Save(model, outPath);
        var dense = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
        var denseState = model.StateDict();
        CliConsole.Note(string.Create(CultureInfo.InvariantCulture, $"dense {model.Spec}: test accuracy {Acc(dense.Accuracy)}, loss {dense.Loss:0.0000}"));

        var rows = new List<Row>();
        foreach (var target in sparsities)
        {
            foreach (var m in methods)
            {
                var pruned = ModelFactory.Create(model.Spec);
                pruned.LoadStateDict(denseState);
                var selection = CliModels.Select(pruned, s.Layers, s.IncludeBias);
                var row = new Row(target, m, double.NaN, double.NaN, double.NaN, new PhaseTimings(), null);
                CliConsole.Note($"-- {m.Label} ({row.UpdateLabel}) at {ModelPruning.Pct(target)}");
                try
                {
                    var (result, _) = ModelPruning.Run(pruned, selection, s.IncludeBias, data, m, target);
                    var e = Evaluation.Evaluate(pruned, test.Images, test.Labels, test.Count);
                    rows.Add(row with { Achieved = result.Sparsity, Accuracy = e.Accuracy, Loss = e.Loss, Seconds = result.Timings });
                }
                catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException or ArithmeticException or UsageException or InsufficientMemoryException)
                {
                    rows.Add(row with { Error = CliError.Describe(ex, []) });
                }
            }
        }

        var title = string.Create(CultureInfo.InvariantCulture,
            $"{model.Spec} on {train.Count} train / {test.Count} test samples; dense test accuracy {Acc(dense.Accuracy)}, loss {dense.Loss:0.0000}; {estimator.Samples} gradients, c = {Vocabulary.BlockText(estimator.BlockSize)}, λ = {estimator.Damping:g3}");
        Print(title, model.Spec, dense, train.Count, test.Count, estimator, rows);
        if (report is not null)
            CliFiles.WriteText(report, Markdown(title, rows));
        return 0;
    }

    private static IModel<float> Train(Settings s, Dataset train, int epochs)
    {
        var model = ModelFactory.Create(s.Arch ?? (s.Quick ? QuickArch : DefaultArch), s.Seed ?? 0);
        CliModels.CheckFits(model, train);
        var batches = (train.Count + s.Batch - 1) / s.Batch;
        using var p = CliProgress.Start($"training {model.Spec} for {epochs} epochs", (long)epochs * batches);
        Trainer.Train(model, train.Images, train.Labels, train.Count, TrainingHelp.Options(s, epochs), p.Batches(e => CliConsole.Note(string.Create(CultureInfo.InvariantCulture, $"epoch {e.Epoch + 1}: train loss {e.Loss:0.0000}"))));
        return model;
    }

    /// <summary>Accuracy in percent with its unit: the header, the table and the Markdown all use it.</summary>
    private static string Acc(double v) => double.IsNaN(v) ? "—" : (100 * v).ToString("0.00", CultureInfo.InvariantCulture) + "%";

    private static void Print(string title, string arch, EvaluationResult dense, int trainCount, int testCount, EstimatorSpec estimator, List<Row> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        if (CliConsole.IsInteractive)
        {
            var table = new Table().Title(Markup.Escape(title));
            foreach (var h in new[] { "sparsity", "method", "update", "test accuracy", "test loss", "seconds" })
                table.AddColumn(h is "method" or "update" ? new TableColumn(h) : new TableColumn(h).RightAligned());
            foreach (var r in rows)
            {
                table.AddRow(ModelPruning.Pct(r.Target), Markup.Escape(r.Method.Label), Markup.Escape(r.UpdateLabel),
                    r.Error is null ? Acc(r.Accuracy) : "[red]failed[/]",
                    r.Error is null ? r.Loss.ToString("0.0000", inv) : Markup.Escape(r.Error.Length > 60 ? r.Error[..60] + "…" : r.Error),
                    ModelPruning.Sec(r.Seconds.Total));
            }
            CliConsole.Render(table);
            return;
        }
        CliConsole.Record(("model", arch), ("train_samples", trainCount), ("test_samples", testCount), ("dense_accuracy", Acc(dense.Accuracy)), ("dense_loss", Math.Round(dense.Loss, 4)),
            ("gradients", estimator.Samples), ("block", Vocabulary.BlockText(estimator.BlockSize)), ("damping", estimator.Damping));
        foreach (var r in rows)
        {
            var t = r.Seconds;
            CliConsole.Record(("sparsity", ModelPruning.Pct(r.Target)), ("method", r.Method.Label), ("update", r.UpdateLabel),
                ("accuracy", r.Error is null ? Acc(r.Accuracy) : "failed"), ("loss", r.Error is null ? Math.Round(r.Loss, 4) : null),
                ("seconds", Math.Round(t.Total, 2)), ("seconds_gradients", Math.Round(t.Gradients, 2)), ("seconds_inverse", Math.Round(t.Inverse, 2)),
                ("seconds_selection", Math.Round(t.Selection, 2)), ("seconds_update", Math.Round(t.Update, 2)), ("error", r.Error));
        }
    }

    private static string Markdown(string title, List<Row> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(title + ".");
        sb.AppendLine();
        sb.AppendLine("| sparsity | method | update | test accuracy | test loss | seconds (gradients / inverse / selection / update) |");
        sb.AppendLine("|---:|---|---|---:|---:|---:|");
        foreach (var r in rows)
        {
            var t = r.Seconds;
            if (r.Error is null)
                sb.AppendLine(inv, $"| {ModelPruning.Pct(r.Target)} | {r.Method.Label} | {r.UpdateLabel} | {Acc(r.Accuracy)} | {r.Loss:0.000} | {t.Total:0.0} ({t.Gradients:0.0} / {t.Inverse:0.0} / {t.Selection:0.0} / {t.Update:0.0}) |");
            else
                sb.AppendLine(inv, $"| {ModelPruning.Pct(r.Target)} | {r.Method.Label} | {r.UpdateLabel} | failed | — | {r.Error} |");
        }
        return sb.ToString();
    }
}
