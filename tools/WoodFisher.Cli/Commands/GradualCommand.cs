using System.ComponentModel;
using System.Globalization;
using System.Text;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;
using WoodFisher.Pruning;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher gradual</c>: gradual pruning on the Zhu–Gupta cubic schedule with fine-tuning between pruning steps.
/// The masks are held by the optimizer (<see cref="ParameterMasks"/>), so pruned weights stay exactly zero. Writes the
/// final model, a per-epoch CSV (epoch, target and achieved sparsity, test accuracy and loss) and a PNG plot of it.
/// </summary>
internal sealed class GradualCommand : Command<GradualCommand.Settings>
{
    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <MODEL>")]
        [Description("The (usually trained) model to prune, .safetensors.")]
        public string? Model { get; init; }

        [CommandOption("--arch <SPEC>")]
        public string? Arch { get; init; }

        [CommandOption("--data <DIR>")]
        public string? Data { get; init; }

        [CommandOption("--target <S>")]
        [Description("Final sparsity s_f in [0, 1).")]
        public double? Target { get; init; }

        [CommandOption("--epochs <E>")]
        [Description("Epochs of training in all (fine-tuning continues after the last pruning step).")]
        public int? Epochs { get; init; }

        [CommandOption("--start-epoch <T0>")]
        public int StartEpoch { get; init; }

        [CommandOption("--end-epoch <T1>")]
        [Description("Last pruning step (default max(t0, E − 2): at least one epoch of fine-tuning at the target).")]
        public int? EndEpoch { get; init; }

        [CommandOption("--frequency <DT>")]
        public int Frequency { get; init; } = 1;

        [CommandOption("--initial-sparsity <SI>")]
        public double InitialSparsity { get; init; }

        [CommandOption("--method <METHOD>")]
        [Description("woodfisher (default), woodtaylor, diagfisher, kfac, magnitude, magnitude-layerwise.")]
        public string Method { get; init; } = "woodfisher";

        [CommandOption("--update <MODE>")]
        public string Update { get; init; } = "joint";

        [CommandOption("--block <C>")]
        public int Block { get; init; } = 100;

        [CommandOption("--damping <LAMBDA>")]
        [Description("Damping λ > 0, or auto (default): chosen at each pruning step by the calibration loss.")]
        public string Damping { get; init; } = "auto";

        [CommandOption("--fisher-samples <M>")]
        public int FisherSamples { get; init; } = 1000;

        [CommandOption("--fisher-minibatch <B>")]
        public int FisherMiniBatch { get; init; } = 1;

        [CommandOption("--taylor-step <ETA>")]
        [Description("WoodTaylor: fraction η of the Newton term H⁻¹g used (default: chosen with λ from 0, 0.001, 0.01, 0.1, 1).")]
        public double? TaylorStep { get; init; }

        [CommandOption("--lr <LR>")]
        [Description("Fine-tuning learning rate (SGD, momentum 0.9), default 0.01.")]
        public double Lr { get; init; } = 0.01;

        [CommandOption("--batch <B>")]
        public int Batch { get; init; } = 128;

        [CommandOption("--train-samples <N>")]
        [Description("Use the first N training samples (default all).")]
        public int? TrainSamples { get; init; }

        [CommandOption("--seed <SEED>")]
        public int Seed { get; init; }

        [CommandOption("--out <PATH>")]
        public string? Out { get; init; }

        [CommandOption("--log <CSV>")]
        [Description("Per-epoch CSV; the plot goes next to it with extension .png.")]
        public string? Log { get; init; }
    }

    public override int Execute(CommandContext context, Settings s, CancellationToken cancellationToken)
    {
        var target = s.Target ?? throw new ArgumentException("--target is required");
        var epochs = s.Epochs ?? throw new ArgumentException("--epochs is required");
        CliParse.Sparsity(target, "--target");
        CliParse.Sparsity(s.InitialSparsity, "--initial-sparsity");
        CliParse.Positive(epochs, "--epochs");
        CliParse.Positive(s.Frequency, "--frequency");
        CliParse.Positive(s.Batch, "--batch");
        if (!(s.Lr > 0))
            throw new ArgumentException("--lr must be positive");
        if (s.InitialSparsity > target)
            throw new ArgumentException("--initial-sparsity must not exceed --target");
        var end = s.EndEpoch ?? Math.Max(s.StartEpoch, epochs - 2);
        if (s.StartEpoch < 0 || end < s.StartEpoch || end >= epochs)
            throw new ArgumentException($"need 0 ≤ --start-epoch ≤ --end-epoch < --epochs, got {s.StartEpoch}, {end}, {epochs}");
        var method = CliMethod.Parse(s.Method, ["woodfisher", "woodtaylor", "diagfisher", "kfac", "magnitude", "magnitude-layerwise"]);
        var prune = new ModelPruneSettings
        {
            Method = method,
            Update = CliParse.Update(s.Update),
            Sparsity = target,
            BlockSize = s.Block,
            Damping = CliParse.Damping(s.Damping),
            FisherSamples = s.FisherSamples,
            FisherMiniBatch = s.FisherMiniBatch,
            GradientStep = s.TaylorStep,
        };
        prune.Validate();
        if (s.Model is null || s.Out is null || s.Log is null)
            throw new ArgumentException("gradual needs --model, --out and --log");
        var png = Path.ChangeExtension(s.Log, ".png");
        CliParse.Outputs(s.Out, s.Log, png);

        var model = CliModels.Load(s.Model, s.Arch);
        var train = DataSets.Load(s.Data, "train");
        if (s.TrainSamples is { } n)
            train = train.Take(n);
        prune.CheckSamples(train.Count);
        var test = DataSets.Load(s.Data, "test");
        PruneCommand.CheckData(model, train);
        var selection = ParameterSelection<float>.Prunable(model);
        var schedule = new PolynomialSchedule(s.InitialSparsity, target, s.StartEpoch, end, s.Frequency);
        var host = new Host(model, selection, train, test, prune, schedule, s);
        host.Log(0, 0);
        var pruner = new GradualPruner(schedule, prune.Options(selection, false), epochs);
        var steps = pruner.Run(host, null, ModelPruning.Notes);

        ModelFiles.Save(model, s.Out, new Dictionary<string, string> { ["woodfisher.pruning"] = $"gradual {method.Name} s={target.ToString(CultureInfo.InvariantCulture)}" });
        var csv = new StringBuilder("epoch,target_sparsity,achieved_sparsity,test_accuracy,test_loss\n");
        foreach (var r in host.Rows)
            csv.AppendLine(CultureInfo.InvariantCulture, $"{r.Epoch},{r.Target:0.######},{r.Achieved:0.######},{r.Accuracy:0.######},{r.Loss:0.######}");
        CliFiles.WriteText(s.Log, csv.ToString());
        var xs = host.Rows.Select(r => (double)r.Epoch).ToArray();
        PngPlot.Save(png, $"Gradual {method.Name} pruning of {model.Spec} to {ModelPruning.Pct(target)}", "epoch", "fraction",
        [
            new PngPlot.Series("test accuracy", xs, host.Rows.Select(r => r.Accuracy).ToArray()),
            new PngPlot.Series("achieved sparsity", xs, host.Rows.Select(r => r.Achieved).ToArray()),
            new PngPlot.Series("target sparsity", xs, host.Rows.Select(r => r.Target).ToArray()),
        ]);

        CliConsole.Line("epoch\ttarget\tachieved\taccuracy\tloss");
        foreach (var r in host.Rows)
            CliConsole.Line(string.Create(CultureInfo.InvariantCulture, $"{r.Epoch}\t{r.Target:0.0000}\t{r.Achieved:0.0000}\t{r.Accuracy:0.0000}\t{r.Loss:0.0000}"));
        CliConsole.Line($"pruning steps\t{steps.Count}");
        return 0;
    }

    internal sealed record LogRow(int Epoch, double Target, double Achieved, double Accuracy, double Loss);

    /// <summary>The trainer side of <see cref="GradualPruner"/>: SGD fine-tuning with the masks held by the optimizer.</summary>
    private sealed class Host(IModel<float> model, ParameterSelection<float> selection, Dataset train, Dataset test, ModelPruneSettings prune, PolynomialSchedule schedule, Settings s)
        : IGradualPruningHost
    {
        private readonly ModelCurvature _curvature = new(model, selection, train.Images, train.Labels);
        private readonly ParameterMasks _masks = new();

        // One optimizer for the whole run: its momentum carries across epochs and pruning steps (masked entries zeroed).
        private readonly Sgd<float> _sgd = new(model.Parameters, new TrainerOptions().Momentum);
        private int _epoch;

        public List<LogRow> Rows { get; } = [];

        public double[] GetWeights() => _curvature.GetWeights();

        public void SetWeights(double[] weights) => _curvature.SetWeights(weights);

        public void SetMask(bool[] mask)
        {
            foreach (var e in selection.Entries)
                _masks.Set(e.Name, mask.AsSpan(e.Offset, e.Length).ToArray());
            _masks.Apply(model);
            _sgd.Apply(_masks);
        }

        public CurvatureSample ComputeCurvature(double[] weights, bool[] mask)
        {
            var spec = prune.Estimator(train.Count);
            using var p = CliProgress.Start($"epoch {_epoch}: gradients + {spec.Label} inverse from {spec.Samples} samples", 0);
            return _curvature.Factory(spec, prune.Method.Method == PruningMethod.WoodTaylor)(weights, mask);
        }

        public void FineTune(int epochs)
        {
            for (var i = 0; i < epochs; i++)
            {
                var options = new TrainerOptions
                {
                    Epochs = 1,
                    BatchSize = s.Batch,
                    Schedule = LearningRateSchedule.Constant(s.Lr),
                    Seed = s.Seed + _epoch,
                    Masks = _masks,
                };
                using (var p = CliProgress.Start($"epoch {_epoch + 1}: fine-tuning", (train.Count + s.Batch - 1) / s.Batch))
                    Trainer.Train(model, _sgd, train.Images, train.Labels, train.Count, options, new Advance(p));
                _epoch++;
                Log(_epoch, Scheduled(_epoch - 1));
            }
        }

        /// <summary>s_t of the last pruning step at or before epoch t.</summary>
        private double Scheduled(int t)
        {
            for (var k = t; k >= 0; k--)
            {
                if (schedule.IsPruningStep(k))
                    return schedule.SparsityAt(k);
            }
            return 0;
        }

        public void Log(int epoch, double scheduled)
        {
            var w = GetWeights();
            var zeros = w.Count(v => v == 0);
            var e = Evaluation.Evaluate(model, test.Images, test.Labels, test.Count);
            Rows.Add(new LogRow(epoch, scheduled, (double)zeros / w.Length, e.Accuracy, e.Loss));
            CliConsole.Note(string.Create(CultureInfo.InvariantCulture, $"epoch {epoch}: sparsity {(double)zeros / w.Length:0.0000}, test accuracy {e.Accuracy:0.0000}, loss {e.Loss:0.0000}"));
        }
    }

    private sealed class Advance(CliProgress p) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value)
        {
            if (!value.IsEpochEnd)
                p.Advance();
        }
    }
}
