using System.Diagnostics;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher train --arch SPEC --epochs E --out MODEL.safetensors</c>: mini-batch SGD with softmax cross-entropy on an IDX
/// data set (from fresh weights, or from <c>--model</c>'s), one progress bar and one labelled line per epoch; writes the
/// model as safetensors and, with <c>--log</c>, the per-epoch metrics as CSV (row by row) plus a PNG plot of the curves.
/// </summary>
internal sealed class TrainCommand : VerbCommand<TrainCommand.Settings>
{
    /// <summary>
    /// The training options, declared here as in <see cref="TrainingSettings"/>: Spectre binds the public properties of a
    /// settings class and its bases only (never interface members), and train takes none of the sample, estimator and
    /// pruner options <see cref="TrainingSettings"/> inherits.
    /// </summary>
    public sealed class Settings : ModelSettings, ITrainingOptions
    {
        [CommandOption("--epochs <E>", true), Help(TrainingHelp.Epochs)]
        public int? Epochs { get; init; }

        [CommandOption("--batch <B>"), Help(TrainingHelp.Batch), DefaultValue(128)]
        public int Batch { get; init; }

        [CommandOption("--lr <LR>"), Help(TrainingHelp.Lr), DefaultValue(0.05)]
        public double Lr { get; init; }

        [CommandOption("--momentum <MU>"), Help(TrainingHelp.Momentum), DefaultValue(0.9)]
        public double Momentum { get; init; }

        [CommandOption("--nesterov"), Help(TrainingHelp.Nesterov)]
        public bool Nesterov { get; init; }

        [CommandOption("--weight-decay <L2>"), Help(TrainingHelp.WeightDecay), DefaultValue(0.0)]
        public double WeightDecay { get; init; }

        [CommandOption("--schedule <KIND>"), Help(TrainingHelp.Schedule), DefaultValue("constant")]
        public string Schedule { get; init; } = "";

        [CommandOption("--train-samples <N>"), Help(TrainingHelp.TrainSamples)]
        public int? TrainSamples { get; init; }

        [CommandOption("--seed <N>"), Help("Seed of the initialisation and the per-epoch shuffles."), DefaultValue(0)]
        public int Seed { get; init; }

        [CommandOption("--out <FILE>", true), Help("The trained model (.safetensors).")]
        public string? Out { get; init; }

        [CommandOption("--log <FILE>"), Help("Per-epoch metrics as CSV, written as training goes; a PNG of the curves goes next to it (same name, .png).")]
        public string? Log { get; init; }

        public override Spectre.Console.ValidationResult Validate()
        {
            TrainingHelp.Validate(this);
            return base.Validate();
        }
    }

    protected override int Run(Settings s, VerbRun run, CancellationToken cancellationToken)
    {
        if (s.Arch is null && s.Model is null)
            throw new UsageException("--arch is required (e.g. mlp:784-300-100-10 or lenet5), or --model to continue training a saved model");
        var epochs = s.Epochs!.Value;
        var outPath = run.Outputs.File("--out", s.Out)!;
        var log = run.Outputs.File("--log", s.Log);
        var png = log is null ? null : run.Outputs.File("--log (its plot)", Path.ChangeExtension(log, ".png"));

        var pending = CliModels.LoadDataInBackground(s.Data, "train");
        var model = s.Model is null ? ModelFiles.CreateModel(s.Arch!, s.Seed) : CliModels.Load(s.Model, s.Arch);
        var test = CliModels.LoadData(s.Data, "test");
        var train = CliModels.Take(pending(), s.TrainSamples, "--train-samples");
        CliModels.CheckFits(model, train);
        CliModels.CheckFits(model, test);
        CliConsole.Note($"train: {model.Spec}, {model.Parameters.Sum(p => (long)p.Length):N0} parameters, {train.Count} training samples from {train.Name}, {test.Count} test samples");

        var rows = new List<EpochRow>();
        using (var csv = log is null ? null : new CsvLog(log, "epoch,train_loss,test_loss,test_accuracy,lr,seconds"))
        using (var reporter = new EpochReporter(model, test, epochs, row =>
        {
            rows.Add(row);
            csv?.Append(string.Create(CultureInfo.InvariantCulture, $"{row.Epoch},{row.TrainLoss:R},{row.TestLoss:R},{row.TestAccuracy:R},{row.LearningRate:R},{row.Seconds:0.000}"));
        }))
        {
            Trainer.Train(model, train.Images, train.Labels, train.Count, TrainingHelp.Options(s, epochs), reporter, cancellationToken);
            csv?.Commit();
        }

        ModelFiles.Save(model, outPath, new Dictionary<string, string>
        {
            ["woodfisher.epochs"] = epochs.ToString(CultureInfo.InvariantCulture),
            ["woodfisher.train_samples"] = train.Count.ToString(CultureInfo.InvariantCulture),
            ["woodfisher.test_accuracy"] = rows[^1].TestAccuracy.ToString("R", CultureInfo.InvariantCulture),
        });
        if (png is not null)
        {
            var x = rows.Select(r => (double)r.Epoch).ToArray();
            CliPlots.Lines(png, $"{model.Spec} on {train.Count} samples", "epoch", "loss / accuracy",
            [
                new PlotSeries("train loss", x, [.. rows.Select(r => r.TrainLoss)]),
                new PlotSeries("test loss", x, [.. rows.Select(r => r.TestLoss)]),
                new PlotSeries("test accuracy", x, [.. rows.Select(r => r.TestAccuracy)]),
            ], wholeX: true);
        }
        CliConsole.Record(("wrote", string.Join(",", new[] { outPath, log, png }.Where(p => p is not null))));
        return 0;
    }

    internal readonly record struct EpochRow(int Epoch, double TrainLoss, double TestLoss, double TestAccuracy, double LearningRate, double Seconds);

    /// <summary>Called synchronously by the trainer: a progress bar per epoch, test evaluation and one line at each epoch's end.</summary>
    private sealed class EpochReporter(IModel<float> model, Dataset test, int epochs, Action<EpochRow> done) : IProgress<TrainingProgress>, IDisposable
    {
        private readonly Stopwatch _clock = new();
        private CliProgress? _bar;
        private double _lr;

        public void Report(TrainingProgress value)
        {
            if (!value.IsEpochEnd)
            {
                if (_bar is null)
                {
                    _bar = CliProgress.Start($"epoch {value.Epoch + 1}/{epochs}", value.BatchesPerEpoch);
                    _clock.Restart();
                }
                _lr = value.LearningRate;
                _bar.Advance();
                return;
            }
            var seconds = _clock.Elapsed.TotalSeconds;
            _bar?.Dispose();
            _bar = null;
            var eval = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
            var row = new EpochRow(value.Epoch + 1, value.Loss, eval.Loss, eval.Accuracy, _lr, seconds);
            done(row);
            CliConsole.Record(("epoch", $"{row.Epoch}/{epochs}"), ("train_loss", row.TrainLoss), ("test_loss", row.TestLoss), ("test_accuracy", row.TestAccuracy),
                ("lr", row.LearningRate), ("seconds", Math.Round(row.Seconds, 2)));
        }

        public void Dispose()
        {
            _bar?.Dispose();
            _bar = null;
        }
    }
}
