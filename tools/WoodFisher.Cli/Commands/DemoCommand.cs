using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Spectre.Console;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher demo</c>: trains a small MLP on Fashion-MNIST (the full set when installed, else the embedded slice),
/// prunes it one-shot with several methods and prints test accuracy, loss and seconds per method. With
/// <c>--methods all --sparsity 0.8,0.9,0.95</c> it is the full method comparison; <c>--quick</c> runs in seconds.
/// </summary>
internal sealed class DemoCommand : Command<DemoCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--data <DIR>")]
        [Description("Fashion-MNIST IDX directory (default: WOODFISHER_DATA, the system copy, or the embedded slice).")]
        public string? Data { get; init; }

        [CommandOption("--quick")]
        [Description("A few hundred samples, tiny sizes: seconds (for tests).")]
        public bool Quick { get; init; }

        [CommandOption("--arch <SPEC>")]
        [Description("Model to train (default mlp:784-40-20-10:nobias).")]
        public string Arch { get; init; } = "mlp:784-40-20-10:nobias";

        [CommandOption("--model <MODEL>")]
        [Description("Prune this trained model (.safetensors) instead of training one.")]
        public string? Model { get; init; }

        [CommandOption("--save-model <PATH>")]
        [Description("Save the trained dense model here.")]
        public string? SaveModel { get; init; }

        [CommandOption("--epochs <E>")]
        public int? Epochs { get; init; }

        [CommandOption("--lr <LR>")]
        [Description("SGD learning rate (momentum 0.9, cosine decay); default 0.05.")]
        public double Lr { get; init; } = 0.05;

        [CommandOption("--batch <B>")]
        public int Batch { get; init; } = 128;

        [CommandOption("--train-samples <N>")]
        [Description("Use the first N training samples (default all; 500 with --quick).")]
        public int? TrainSamples { get; init; }

        [CommandOption("--sparsity <S1,S2>")]
        [Description("Target sparsities (default 0.9).")]
        public string Sparsity { get; init; } = "0.9";

        [CommandOption("--methods <LIST>")]
        [Description("Comma-separated: 'default' (magnitude, woodfisher independent/joint, joint K=4), 'all', or method[/update][/kK][/etaX], e.g. woodfisher/joint/k4, woodtaylor/joint/eta0.1.")]
        public string Methods { get; init; } = "default";

        [CommandOption("--block <C>")]
        [Description("WoodFisher block size c (default 400; 50 with --quick).")]
        public int? Block { get; init; }

        [CommandOption("--damping <LAMBDA>")]
        public double Damping { get; init; } = 1e-5;

        [CommandOption("--fisher-samples <M>")]
        [Description("Gradients for the estimators (default 1000; 100 with --quick).")]
        public int? FisherSamples { get; init; }

        [CommandOption("--precision <P>")]
        public string Precision { get; init; } = "f32";

        [CommandOption("--seed <SEED>")]
        public int Seed { get; init; }

        [CommandOption("--taylor-step <ETA>")]
        [Description("WoodTaylor: fraction η of the Newton term H⁻¹g (default: chosen with λ from 0, 0.001, 0.01, 0.1, 1); a method may fix it with /etaX.")]
        public double? TaylorStep { get; init; }

        [CommandOption("--markdown <PATH>")]
        [Description("Also write the table as Markdown.")]
        public string? Markdown { get; init; }
    }

    /// <summary>One row of the comparison.</summary>
    internal sealed record Variant(CliMethod Method, UpdateMode Update, int Recompute, double? TaylorStep = null)
    {
        public string UpdateLabel => Method.Method == PruningMethod.Magnitude && Update == UpdateMode.None ? "none" :
            Update.ToString().ToLowerInvariant() + (Recompute > 1 ? $", K={Recompute} cubic" : "")
            + (TaylorStep is { } eta && Method.Method == PruningMethod.WoodTaylor ? string.Create(CultureInfo.InvariantCulture, $", η={eta:g3}") : "");

        public static Variant Parse(string text)
        {
            double? eta = null;
            var parts = text.Split('/', StringSplitOptions.TrimEntries);
            var method = CliMethod.Parse(parts[0]);
            var update = method.Method == PruningMethod.Magnitude ? UpdateMode.None : UpdateMode.Joint;
            var k = 1;
            foreach (var p in parts.Skip(1))
            {
                if (p.StartsWith('k') && int.TryParse(p.AsSpan(1), NumberStyles.Integer, CultureInfo.InvariantCulture, out var kk) && kk >= 1)
                    k = kk;
                else if (p.StartsWith("eta", StringComparison.Ordinal) && double.TryParse(p.AsSpan(3), NumberStyles.Float, CultureInfo.InvariantCulture, out var e) && e >= 0)
                    eta = e;
                else
                    update = CliParse.Update(p);
            }
            return new Variant(method, update, k, eta);
        }
    }

    internal static readonly string[] DefaultSet = ["magnitude", "woodfisher/independent", "woodfisher/joint", "woodfisher/joint/k4"];

    internal static readonly string[] AllSet =
    [
        "magnitude", "magnitude-layerwise", "diagfisher/joint", "kfac/joint", "woodfisher/independent", "woodfisher/joint",
        "woodtaylor/joint", "woodfisher/joint/k4",
    ];

    internal sealed record Row(double Target, Variant Variant, double Achieved, double Accuracy, double Loss, PhaseTimings Seconds, string? Error);

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var sparsities = CliParse.Doubles(s.Sparsity, "--sparsity");
        foreach (var sp in sparsities)
            CliParse.Sparsity(sp);
        var variants = s.Methods.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .SelectMany(m => m.ToLowerInvariant() switch
            {
                "default" => DefaultSet,
                "all" => AllSet,
                _ => [m],
            })
            .Select(Variant.Parse).ToList();
        var block = s.Block ?? (s.Quick ? 50 : 400);
        var fisher = s.FisherSamples ?? (s.Quick ? 100 : 1000);
        var epochs = s.Epochs ?? (s.Quick ? 2 : 10);
        CliParse.Damping(s.Damping);
        if (s.TaylorStep is { } eta)
            CliParse.TaylorStep(eta);
        CliParse.Positive(block, "--block");
        CliParse.Positive(fisher, "--fisher-samples");
        CliParse.Positive(epochs, "--epochs");
        CliParse.Positive(s.Batch, "--batch");
        var precision = CliParse.Precision(s.Precision);
        CliParse.Outputs(s.SaveModel, s.Markdown);

        var train = DataSets.Load(s.Data, "train");
        var test = DataSets.Load(s.Data, "test");
        var trainCount = s.TrainSamples ?? (s.Quick ? 500 : train.Count);
        train = train.Take(trainCount);
        if (s.FisherSamples is null)
            fisher = Math.Min(fisher, train.Count);
        else if (fisher > train.Count)
            throw new ArgumentException($"--fisher-samples {fisher} exceeds the {train.Count} training samples; pass --fisher-samples {train.Count} or fewer");
        if (s.Quick)
            test = test.Take(300);
        CliConsole.Note($"data: {DataSets.DescribeSource(s.Data, "train")} ({train.Count} train, {test.Count} test samples)");

        IModel<float> model;
        if (s.Model is not null)
        {
            model = CliModels.Load(s.Model, null);
        }
        else
        {
            model = ModelFactory.Create(s.Quick && s.Arch == "mlp:784-40-20-10:nobias" ? "mlp:784-16-10:nobias" : s.Arch, s.Seed);
            PruneCommand.CheckData(model, train);
            var options = new TrainerOptions
            {
                Epochs = epochs,
                BatchSize = s.Batch,
                Schedule = LearningRateSchedule.Cosine(s.Lr, epochs),
                Seed = s.Seed,
            };
            var batches = (train.Count + s.Batch - 1) / s.Batch;
            using var p = CliProgress.Start($"training {model.Spec} for {epochs} epochs", (long)epochs * batches);
            Trainer.Train(model, train.Images, train.Labels, train.Count, options, new Progress(p));
        }
        PruneCommand.CheckData(model, train);
        if (s.SaveModel is not null)
            ModelFiles.Save(model, s.SaveModel);
        var dense = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
        var denseState = model.StateDict();
        CliConsole.Note(string.Create(CultureInfo.InvariantCulture, $"dense {model.Spec}: test accuracy {dense.Accuracy:0.0000}, loss {dense.Loss:0.0000}"));

        var rows = new List<Row>();
        foreach (var target in sparsities)
        {
            foreach (var v in variants)
            {
                var m = ModelFactory.Create(model.Spec);
                m.LoadStateDict(denseState);
                var selection = ParameterSelection<float>.Prunable(m);
                var settings = new ModelPruneSettings
                {
                    Method = v.Method,
                    Update = v.Update,
                    Sparsity = target,
                    BlockSize = block,
                    Damping = s.Damping,
                    FisherSamples = fisher,
                    Recompute = v.Recompute,
                    Precision = precision,
                    GradientStep = v.TaylorStep ?? s.TaylorStep,
                };
                CliConsole.Note($"-- {v.Method.Name} ({v.UpdateLabel}) at {ModelPruning.Pct(target)}");
                try
                {
                    var (result, _) = ModelPruning.Run(m, selection, false, train, settings);
                    var e = Evaluation.Evaluate(m, test.Images, test.Labels, test.Count);
                    rows.Add(new Row(target, v, result.Sparsity, e.Accuracy, e.Loss, result.Timings, null));
                }
                catch (Exception ex) when (ex is NotSupportedException or InvalidOperationException or ArgumentException or ArithmeticException or CurvatureNotPositiveDefiniteException)
                {
                    rows.Add(new Row(target, v, double.NaN, double.NaN, double.NaN, new PhaseTimings(), CliError.Describe(ex)));
                }
            }
        }

        Print(model.Spec, train.Count, test.Count, dense, fisher, block, s.Damping, rows);
        if (s.Markdown is not null)
            CliFiles.WriteText(s.Markdown, Markdown(model.Spec, dense, rows));
        return 0;
    }

    private sealed class Progress(CliProgress p) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (!value.IsEpochEnd)
                p.Advance();
            else
                CliConsole.Note(string.Create(CultureInfo.InvariantCulture, $"epoch {value.Epoch + 1}: train loss {value.Loss:0.0000}"));
        }
    }

    private static string Acc(double v) => double.IsNaN(v) ? "—" : (100 * v).ToString("0.00", CultureInfo.InvariantCulture);

    private static void Print(string arch, int trainCount, int testCount, EvaluationResult dense, int fisher, int block, double damping, List<Row> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var title = string.Create(inv, $"{arch} on {trainCount} train / {testCount} test samples; dense test accuracy {Acc(dense.Accuracy)}%, loss {dense.Loss:0.0000}; {fisher} gradients, c = {block}, λ = {damping:g3}");
        if (CliConsole.IsInteractive)
        {
            var table = new Table().Title(Markup.Escape(title));
            foreach (var h in new[] { "sparsity", "method", "update", "test acc %", "loss", "seconds" })
                table.AddColumn(h is "method" or "update" ? new TableColumn(h) : new TableColumn(h).RightAligned());
            foreach (var r in rows)
            {
                table.AddRow(ModelPruning.Pct(r.Target), r.Variant.Method.Name, Markup.Escape(r.Variant.UpdateLabel),
                    r.Error is null ? Acc(r.Accuracy) : "[red]failed[/]",
                    r.Error is null ? r.Loss.ToString("0.0000", inv) : Markup.Escape(r.Error.Length > 60 ? r.Error[..60] + "…" : r.Error),
                    ModelPruning.Sec(r.Seconds.Total));
            }
            CliConsole.Render(table);
            return;
        }
        CliConsole.Line("# " + title);
        CliConsole.Line("sparsity\tmethod\tupdate\taccuracy\tloss\tseconds\tgradients\tinverse\tselection\tupdate_s");
        foreach (var r in rows)
        {
            var t = r.Seconds;
            CliConsole.Line(string.Create(inv, $"{r.Target:0.###}\t{r.Variant.Method.Name}\t{r.Variant.UpdateLabel}\t{(r.Error is null ? r.Accuracy.ToString("0.0000", inv) : "failed: " + r.Error)}\t{r.Loss:0.0000}\t{t.Total:0.00}\t{t.Gradients:0.00}\t{t.Inverse:0.00}\t{t.Selection:0.00}\t{t.Update:0.00}"));
        }
    }

    private static string Markdown(string arch, EvaluationResult dense, List<Row> rows)
    {
        var inv = CultureInfo.InvariantCulture;
        var sb = new StringBuilder();
        sb.AppendLine(inv, $"Dense {arch}: test accuracy {Acc(dense.Accuracy)}%, loss {dense.Loss:0.0000}.");
        sb.AppendLine();
        sb.AppendLine("| sparsity | method | update | test acc % | loss | seconds (grad / inverse / select / update) |");
        sb.AppendLine("|---:|---|---|---:|---:|---:|");
        foreach (var r in rows)
        {
            var t = r.Seconds;
            if (r.Error is null)
                sb.AppendLine(inv, $"| {100 * r.Target:0}% | {r.Variant.Method.Name} | {r.Variant.UpdateLabel} | {Acc(r.Accuracy)} | {r.Loss:0.000} | {t.Total:0.0} ({t.Gradients:0.0} / {t.Inverse:0.0} / {t.Selection:0.0} / {t.Update:0.0}) |");
            else
                sb.AppendLine(inv, $"| {100 * r.Target:0}% | {r.Variant.Method.Name} | {r.Variant.UpdateLabel} | failed | — | {r.Error} |");
        }
        return sb.ToString();
    }
}
