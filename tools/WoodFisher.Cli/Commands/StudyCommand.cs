using WoodFisher.Pruning.Studies;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher study</c>: approximation quality of inverse-curvature estimators against the exact damped Hessian
/// inverse on a small trained model (or a few of its layers): matrix fidelity, loss-change prediction, one-shot pruning
/// curves and cost, written as summary.md, CSV files and PNG plots.
/// </summary>
internal sealed class StudyCommand : VerbCommand<StudyCommand.Settings>
{
    public const string DefaultArch = "mlp:784-40-20-10:nobias";

    public sealed class Settings : EstimatorSettings
    {
        [CommandOption("--method <LIST>"), Help("Estimators to compare, comma-separated name[:key=value,...] (keys: block, damping, samples, minibatch, seed, strategy, backend, precision, treatment, name)."), DefaultValue(StudyOptions.DefaultList)]
        public string Method { get; init; } = "";

        [CommandOption("--sparsity <LIST>"), Help("Target sparsities of the one-shot curves, comma-separated, each in [0, 1)."), DefaultValue("0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,0.98")]
        public string Sparsity { get; init; } = "";

        [CommandOption("--treatment <T>"), Help("Negative Hessian eigenvalues in the exact reference: abs (|μ| + λ), clip (max(μ,0) + λ) or damping (μ + λ)."), DefaultValue("abs")]
        public string Treatment { get; init; } = "";

        [CommandOption("--weights-sampled <N>"), Help("Single weights removed in the loss-change study."), DefaultValue(200)]
        public int WeightsSampled { get; init; }

        [CommandOption("--max-exact <D>"), Help("Largest number of studied coordinates d (the exact Hessian costs d Hessian-vector passes and a d×d eigendecomposition)."), DefaultValue(2000)]
        public int MaxExact { get; init; }

        [CommandOption("--test-samples <N>"), Help("Test samples the pruning curves are evaluated on (default: all).")]
        public int? TestSamples { get; init; }

        [CommandOption("--epochs <E>"), Help("Without --model: epochs of training of --arch (default " + DefaultArch + ") first."), DefaultValue(2)]
        public int Epochs { get; init; }

        [CommandOption("--out <DIR>", true), Help("Directory for summary.md, *.csv and *.png (created if missing).")]
        public string? Out { get; init; }

        public override Spectre.Console.ValidationResult Validate()
        {
            Check("--weights-sampled", WeightsSampled, Vocabulary.NonNegativeCount);
            Check("--max-exact", MaxExact, Vocabulary.Count);
            Check("--epochs", Epochs, Vocabulary.Count);
            if (TestSamples is { } n)
                Check("--test-samples", n, Vocabulary.Count);
            Read("--treatment", Treatment, Vocabulary.Treatment);
            Read("--sparsity", Sparsity, t => Vocabulary.List(t, Vocabulary.Sparsity));
            return base.Validate();
        }
    }

    protected override int Run(Settings s, VerbRun run, CancellationToken cancellationToken)
    {
        var treatment = VerbSettings.Read("--treatment", s.Treatment, Vocabulary.Treatment);
        var defaults = s.Estimator(PruningMethod.WoodFisher) with { Seed = s.Seed ?? 0, Treatment = treatment };
        var estimators = VerbSettings.Read("--method", s.Method, t => MethodSpec.ParseList(t, defaults).Select(m => m.Estimator).ToList());
        var dir = run.Outputs.Directory("--out", s.Out!);
        var data = CliModels.LoadData(s.Data, s.Split);
        var test = CliModels.LoadData(s.Data, "test");
        CliModels.CheckSamples(s.Samples, data);
        var model = s.Model is null ? TrainDefault(s, CliModels.LoadData(s.Data, "train")) : CliModels.Load(s.Model, s.Arch);
        CliModels.CheckFits(model, data);
        var selection = string.IsNullOrWhiteSpace(s.Layers) ? TrailingLayers(model, s.MaxExact) : CliModels.Select(model, s.Layers, s.IncludeBias);
        try
        {
            ApproximationStudy.EnsureExactFits(selection.Dimension, s.MaxExact);
        }
        catch (InsufficientMemoryException ex)
        {
            throw new UsageException($"{ex.Message} Pass --layers with fewer layers ({CliModels.Sizes(ParameterSelection<float>.Prunable(model))}) or raise --max-exact.", ex);
        }

        var options = new StudyOptions
        {
            Estimators = estimators,
            Samples = s.Samples,
            Damping = defaults.DampingValue,
            Treatment = treatment,
            Seed = s.Seed ?? 0,
            Sparsities = VerbSettings.Read("--sparsity", s.Sparsity, t => Vocabulary.List(t, Vocabulary.Sparsity)),
            WeightsSampled = s.WeightsSampled,
            MaxExactDimension = s.MaxExact,
            TestSamples = s.TestSamples,
        };
        CliConsole.Note($"study: {model.Spec}, layers {CliModels.Sizes(selection)} (d = {selection.Dimension}), {options.Samples} samples from {data.Name}, {estimators.Count} estimators");

        StudyResult result;
        using (var progress = new PhaseProgress())
            result = ApproximationStudy.Run(model, selection, data, test, options, progress);

        foreach (var f in StudyRendering.WriteAll(result, dir, data.Name, test.Name))
            CliConsole.Record(("wrote", f));
        return 0;
    }

    /// <summary>The trailing prunable layers whose weights total at most <paramref name="maxExact"/> (at least the last one).</summary>
    internal static ParameterSelection<float> TrailingLayers(IModel<float> model, int maxExact)
    {
        var prunable = ParameterSelection<float>.Prunable(model).Entries;
        var chosen = new List<string>();
        long total = 0;
        for (var i = prunable.Count - 1; i >= 0; i--)
        {
            if (chosen.Count > 0 && total + prunable[i].Length > maxExact)
                break;
            chosen.Add(prunable[i].Name);
            total += prunable[i].Length;
        }
        return ParameterSelection<float>.ByNames(model, chosen);
    }

    private static IModel<float> TrainDefault(Settings s, Dataset train)
    {
        var arch = s.Arch ?? DefaultArch;
        var model = ModelFactory.Create(arch, s.Seed ?? 0);
        var options = new TrainerOptions { Epochs = s.Epochs, Seed = s.Seed ?? 0 };
        var batches = (train.Count + options.BatchSize - 1) / options.BatchSize;
        using var p = CliProgress.Start($"train {arch}", (long)batches * options.Epochs);
        Trainer.Train(model, train.Images, train.Labels, train.Count, options, new InlineProgress<TrainingProgress>(t =>
        {
            if (!t.IsEpochEnd)
                p.Advance();
        }));
        return model;
    }

    /// <summary>An <see cref="IProgress{T}"/> that calls back synchronously (Progress&lt;T&gt; posts to the thread pool).</summary>
    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }

    /// <summary>One <see cref="CliProgress"/> per study phase.</summary>
    private sealed class PhaseProgress : IProgress<StudyProgress>, IDisposable
    {
        private CliProgress? _current;
        private string? _phase;

        public void Report(StudyProgress value)
        {
            if (value.Phase != _phase)
            {
                _current?.Dispose();
                _phase = value.Phase;
                _current = CliProgress.Start(value.Phase, value.Total);
            }
            var delta = value.Done - _current!.Done;
            if (delta > 0)
                _current.Advance(delta);
        }

        public void Dispose() => _current?.Dispose();
    }
}
