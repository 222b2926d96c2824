namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher gradual</c>: gradual pruning on the Zhu–Gupta cubic schedule with SGD fine-tuning between pruning steps.
/// The masks are held by the optimizer (<see cref="ParameterMasks"/>), so pruned weights stay exactly zero. Writes the
/// final model, a per-epoch CSV (epoch, target and achieved sparsity, test accuracy and loss) and a PNG plot of it.
/// </summary>
internal sealed class GradualCommand : VerbCommand<GradualCommand.Settings>
{
    public sealed class Settings : TrainingSettings
    {
        [CommandOption("--method <NAME>"), Help(OneMethodHelp + "."), DefaultValue("woodfisher")]
        public string Method { get; init; } = "";

        [CommandOption("--sparsity <S>"), Help("Final sparsity s_f in [0, 1); with --pattern N:M its own (M-N)/M, and not given.")]
        public string? Sparsity { get; init; }

        [CommandOption("--initial-sparsity <S>"), Help("Sparsity s_i of the first pruning step."), DefaultValue(0.0)]
        public double InitialSparsity { get; init; }

        [CommandOption("--start-epoch <T0>"), Help("Epoch of the first pruning step."), DefaultValue(0)]
        public int StartEpoch { get; init; }

        [CommandOption("--end-epoch <T1>"), Help("Epoch of the last pruning step (default max(T0, E − 2): at least one epoch of fine-tuning at the target).")]
        public int? EndEpoch { get; init; }

        [CommandOption("--frequency <DT>"), Help("Epochs between pruning steps."), DefaultValue(1)]
        public int Frequency { get; init; }

        [CommandOption("--out <FILE>", true), Help("The pruned, fine-tuned model (.safetensors).")]
        public string? Out { get; init; }

        [CommandOption("--log <FILE>", true), Help("Per-epoch CSV, written as training goes; the plot goes next to it with extension .png.")]
        public string? Log { get; init; }
    }

    protected override int Run(Settings s, VerbRun run, CancellationToken cancellationToken)
    {
        var epochs = VerbRun.Require(s.Epochs, "--epochs", "epochs of training in all");
        var method = s.OneMethod(s.Method, "gradual", GradualPruner.DefaultRecomputeSteps);
        run.RefuseUnread(method, "--seed");
        var target = PrunerSettings.OneTarget(method.Pruning.Pattern, s.Sparsity, "gradual", "the final sparsity in [0, 1)");
        VerbSettings.Check("--initial-sparsity", s.InitialSparsity, Vocabulary.Sparsity);
        VerbSettings.Check("--frequency", s.Frequency, Vocabulary.Count);
        if (s.InitialSparsity > target)
            throw new UsageException("--initial-sparsity must not exceed --sparsity");
        var end = s.EndEpoch ?? Math.Max(s.StartEpoch, epochs - 2);
        if (s.StartEpoch < 0 || end < s.StartEpoch || end >= epochs)
            throw new UsageException($"need 0 ≤ --start-epoch ≤ --end-epoch < --epochs, got {s.StartEpoch}, {end}, {epochs}");
        var outPath = run.Outputs.File("--out", s.Out)!;
        var log = run.Outputs.File("--log", s.Log)!;
        var png = run.Outputs.File("--log (its plot)", Path.ChangeExtension(log, ".png"))!;

        var pending = CliModels.LoadDataInBackground(s.Data, "train");
        var model = CliModels.Load(s.Model, s.Arch);
        var test = CliModels.LoadData(s.Data, "test");
        var train = CliModels.Take(pending(), s.TrainSamples, "--train-samples");
        var data = s.Split == "train" ? train : CliModels.LoadData(s.Data, s.Split);
        CliModels.CheckFits(model, train);
        var selection = CliModels.Select(model, s.Layers, s.IncludeBias);
        ModelPruning.Plan(model, selection, data, method);
        var schedule = new PolynomialSchedule(s.InitialSparsity, target, s.StartEpoch, end, s.Frequency);

        IReadOnlyList<GradualStep> steps;
        Host host;
        using (var csv = new CsvLog(log, "epoch,target_sparsity,achieved_sparsity,test_accuracy,test_loss"))
        {
            host = new Host(model, selection, train, data, test, method, schedule, s, TrainingHelp.Rate(s, epochs), csv);
            host.Log(0, 0);
            var pruner = new GradualPruner(schedule, ModelPruning.Options(method, selection, s.IncludeBias, target), epochs) { RecomputeSteps = method.Pruning.RecomputeSteps };
            steps = pruner.Run(host, null, ModelPruning.Notes);
            csv.Commit();
        }

        ModelFiles.Save(model, outPath, new Dictionary<string, string> { ["woodfisher.pruning"] = $"gradual {method.Label} s={target.ToString(CultureInfo.InvariantCulture)}" });
        var xs = host.Rows.Select(r => (double)r.Epoch).ToArray();
        CliPlots.Lines(png, $"Gradual {method.Label} pruning of {model.Spec} to {ModelPruning.Pct(target)}", "epoch", "fraction",
        [
            new PlotSeries("target sparsity (schedule)", xs, [.. host.Rows.Select(r => r.Target)]) { Marker = ScottPlot.MarkerShape.None, LineWidth = 9, Colour = 7 },
            new PlotSeries("achieved sparsity", xs, [.. host.Rows.Select(r => r.Achieved)]) { Marker = ScottPlot.MarkerShape.OpenCircle, LineWidth = 2.5f, Colour = 1 },
            new PlotSeries("test accuracy", xs, [.. host.Rows.Select(r => r.Accuracy)]) { Colour = 0 },
        ], wholeX: true);
        CliConsole.Record(("pruning_steps", steps.Count), ("sparsity", host.Rows[^1].Achieved), ("test_accuracy", host.Rows[^1].Accuracy), ("out", outPath), ("log", log), ("plot", png));
        return 0;
    }

    internal sealed record LogRow(int Epoch, double Target, double Achieved, double Accuracy, double Loss);

    /// <summary>The trainer side of <see cref="GradualPruner"/>: SGD fine-tuning with the masks held by the optimizer.</summary>
    private sealed class Host(IModel<float> model, ParameterSelection<float> selection, Dataset train, Dataset data, Dataset test, MethodSpec method,
        PolynomialSchedule schedule, Settings s, LearningRateSchedule rate, CsvLog csv) : IGradualPruningHost
    {
        // A fresh draw of Fisher and calibration samples at every pruning step (ModelCurvature.Resample).
        private readonly ModelCurvature _curvature = new(model, selection, data.Images, data.Labels) { Resample = true };
        private readonly ParameterMasks _masks = new();

        // One optimizer for the whole run: its momentum carries across epochs and pruning steps (masked entries zeroed).
        private readonly Sgd<float> _sgd = new(model.Parameters, s.Momentum, s.Nesterov, s.WeightDecay);
        private int _epoch;

        public List<LogRow> Rows { get; } = [];

        public double[] GetWeights() => _curvature.GetWeights();

        public void SetWeights(double[] weights)
        {
            Finite.Check(Array.ConvertAll(weights, v => (double)(float)v), $"the weights pruned at epoch {_epoch}", ModelPruning.Hint(method));
            _curvature.SetWeights(weights);
        }

        public void SetMask(bool[] mask)
        {
            foreach (var e in selection.Entries)
                _masks.Set(e.Name, mask.AsSpan(e.Offset, e.Length).ToArray());
            _masks.Apply(model);
            _sgd.Apply(_masks);
        }

        public CurvatureSample ComputeCurvature(double[] weights, bool[] mask)
        {
            var spec = method.Estimator;
            if (!method.Method.UsesCurvature)
                return new CurvatureEstimate(new IdentityCurvature(weights.Length));
            using var p = CliProgress.Start($"epoch {_epoch}: {spec.Label} from {spec.Samples} samples", 0);
            return _curvature.Factory(spec)(weights, mask);
        }

        public void FineTune(int epochs)
        {
            for (var i = 0; i < epochs; i++)
            {
                var options = TrainingHelp.Options(s, 1, _masks) with { Schedule = LearningRateSchedule.Constant(rate.At(_epoch)), Seed = (s.Seed ?? 0) + _epoch };
                using (var p = CliProgress.Start($"epoch {_epoch + 1}: fine-tuning", (train.Count + s.Batch - 1) / s.Batch))
                    Trainer.Train(model, _sgd, train.Images, train.Labels, train.Count, options, p.Batches());
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
            var row = new LogRow(epoch, scheduled, (double)zeros / w.Length, e.Accuracy, e.Loss);
            Rows.Add(row);
            csv.Append(string.Create(CultureInfo.InvariantCulture, $"{row.Epoch},{row.Target:0.######},{row.Achieved:0.######},{row.Accuracy:0.######},{row.Loss:0.######}"));
            CliConsole.Record(("epoch", epoch), ("target_sparsity", scheduled), ("sparsity", row.Achieved), ("test_accuracy", e.Accuracy), ("test_loss", e.Loss));
        }
    }
}
