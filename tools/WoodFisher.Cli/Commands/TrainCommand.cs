using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.Models;
using WoodFisher.Models.Training;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher train --arch SPEC --epochs E --out MODEL.safetensors</c>: mini-batch SGD with softmax cross-entropy on an IDX
/// data set, one progress bar per epoch and one line per epoch (mean training loss, test loss and accuracy, learning rate,
/// training seconds); writes the model as safetensors and, with <c>--log</c>, the per-epoch metrics as CSV plus a PNG plot.
/// </summary>
internal sealed class TrainCommand : Command<TrainCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--arch <SPEC>")]
        [Description("Model: mlp:784-300-100-10[[:nobias]], lenet5 (1x28x28), cifarnet:1x28x28, resnet20:1x28x28.")]
        public string? Arch { get; init; }

        [CommandOption("--data <DIR>")]
        [Description("Directory of IDX files (default: $WOODFISHER_DATA, /usr/share/datasets/fashion-mnist, else the embedded slice).")]
        public string? Data { get; init; }

        [CommandOption("--epochs <E>")]
        [Description("Epochs (required).")]
        public int? Epochs { get; init; }

        [CommandOption("--batch <B>")]
        [Description("Mini-batch size.")]
        [DefaultValue(128)]
        public int Batch { get; init; } = 128;

        [CommandOption("--lr <LR>")]
        [Description("Initial learning rate.")]
        [DefaultValue(0.05)]
        public double LearningRate { get; init; } = 0.05;

        [CommandOption("--momentum <MU>")]
        [Description("SGD momentum.")]
        [DefaultValue(0.9)]
        public double Momentum { get; init; } = 0.9;

        [CommandOption("--nesterov")]
        [Description("Nesterov momentum.")]
        public bool Nesterov { get; init; }

        [CommandOption("--weight-decay <L2>")]
        [Description("L2 weight decay.")]
        [DefaultValue(0.0)]
        public double WeightDecay { get; init; }

        [CommandOption("--schedule <KIND>")]
        [Description("constant, step (×0.1 every ⌈E/3⌉ epochs) or cosine (to 0 at the last epoch).")]
        [DefaultValue("constant")]
        public string Schedule { get; init; } = "constant";

        [CommandOption("--seed <S>")]
        [Description("Seed of the initialisation and the per-epoch shuffles.")]
        [DefaultValue(0)]
        public int Seed { get; init; }

        [CommandOption("--train-samples <N>")]
        [Description("Train on the first N training samples only.")]
        public int? TrainSamples { get; init; }

        [CommandOption("--out <MODEL>")]
        [Description("Output .safetensors file (required).")]
        public string? Out { get; init; }

        [CommandOption("--log <CSV>")]
        [Description("Per-epoch metrics as CSV; a PNG plot of the curves is written next to it (same name, .png).")]
        public string? Log { get; init; }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(settings.Arch))
            throw new ArgumentException("--arch is required (e.g. mlp:784-300-100-10 or lenet5)");
        if (string.IsNullOrWhiteSpace(settings.Out))
            throw new ArgumentException("--out is required");
        if (settings.Epochs is not > 0)
            throw new ArgumentException("--epochs is required and must be positive");
        if (settings.Batch <= 0)
            throw new ArgumentException($"--batch must be positive, not {settings.Batch}");
        if (!(settings.LearningRate > 0))
            throw new ArgumentException($"--lr must be positive, not {settings.LearningRate}");
        var epochs = settings.Epochs.Value;
        var schedule = settings.Schedule.ToLowerInvariant() switch
        {
            "constant" => LearningRateSchedule.Constant(settings.LearningRate),
            "step" => LearningRateSchedule.Step(settings.LearningRate, (epochs + 2) / 3, 0.1),
            "cosine" => LearningRateSchedule.Cosine(settings.LearningRate, epochs),
            _ => throw new ArgumentException($"--schedule must be constant, step or cosine, not '{settings.Schedule}'"),
        };

        var model = ModelFiles.CreateModel(settings.Arch, settings.Seed);
        var train = CliModels.Take(CliModels.LoadData(settings.Data, "train"), settings.TrainSamples, "--train-samples");
        var test = CliModels.LoadData(settings.Data, "test");
        CliModels.CheckFits(model, train);
        CliModels.CheckFits(model, test);
        CliConsole.Note($"train: {model.Spec}, {model.Parameters.Sum(p => (long)p.Length):N0} parameters, {train.Count} training samples from {train.Name}, {test.Count} test samples");

        var options = new TrainerOptions
        {
            Epochs = epochs,
            BatchSize = settings.Batch,
            Schedule = schedule,
            Momentum = settings.Momentum,
            Nesterov = settings.Nesterov,
            WeightDecay = settings.WeightDecay,
            Seed = settings.Seed,
        };
        var reporter = new EpochReporter(model, test, epochs);
        try
        {
            Trainer.Train(model, train.Images, train.Labels, train.Count, options, reporter, cancellationToken);
        }
        finally
        {
            reporter.Dispose();
        }

        var last = reporter.Rows[^1];
        ModelFiles.Save(model, settings.Out, new Dictionary<string, string>
        {
            ["woodfisher.epochs"] = epochs.ToString(CultureInfo.InvariantCulture),
            ["woodfisher.train_samples"] = train.Count.ToString(CultureInfo.InvariantCulture),
            ["woodfisher.test_accuracy"] = last.TestAccuracy.ToString("R", CultureInfo.InvariantCulture),
        });
        CliConsole.Line($"wrote {settings.Out}");
        if (!string.IsNullOrWhiteSpace(settings.Log))
        {
            WriteLog(settings.Log, reporter.Rows);
            var png = Path.ChangeExtension(settings.Log, ".png");
            var x = reporter.Rows.Select(r => (double)r.Epoch).ToArray();
            CliPlots.SaveLinePlot(png, $"{model.Spec} on {train.Count} samples", "epoch", "loss / accuracy",
                new PlotSeries("train loss", x, reporter.Rows.Select(r => r.TrainLoss).ToArray()),
                new PlotSeries("test loss", x, reporter.Rows.Select(r => r.TestLoss).ToArray()),
                new PlotSeries("test accuracy", x, reporter.Rows.Select(r => r.TestAccuracy).ToArray()));
            CliConsole.Line($"wrote {settings.Log} and {png}");
        }
        return 0;
    }

    internal readonly record struct EpochRow(int Epoch, double TrainLoss, double TestLoss, double TestAccuracy, double LearningRate, double Seconds);

    private static void WriteLog(string path, IReadOnlyList<EpochRow> rows)
    {
        var csv = new StringBuilder("epoch,train_loss,test_loss,test_accuracy,lr,seconds\n");
        foreach (var r in rows)
            csv.Append(CultureInfo.InvariantCulture, $"{r.Epoch},{r.TrainLoss:R},{r.TestLoss:R},{r.TestAccuracy:R},{r.LearningRate:R},{r.Seconds:0.000}\n");
        CliFiles.WriteText(path, csv.ToString());
    }

    /// <summary>Called synchronously by the trainer: a progress bar per epoch, test evaluation and one line at each epoch's end.</summary>
    private sealed class EpochReporter(IModel<float> model, Models.Data.Dataset test, int epochs) : IProgress<TrainingProgress>, IDisposable
    {
        private readonly Stopwatch _clock = new();
        private CliProgress? _bar;
        private double _lr;

        public List<EpochRow> Rows { get; } = [];

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
            Rows.Add(row);
            CliConsole.Line(string.Create(CultureInfo.InvariantCulture,
                $"epoch {row.Epoch}/{epochs}  train loss {row.TrainLoss:0.0000}  test loss {row.TestLoss:0.0000}  test accuracy {row.TestAccuracy:0.0000}  lr {row.LearningRate:G4}  {row.Seconds:0.0}s"));
        }

        public void Dispose()
        {
            _bar?.Dispose();
            _bar = null;
        }
    }
}
