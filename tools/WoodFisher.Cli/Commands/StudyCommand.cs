using System.ComponentModel;
using System.Globalization;
using Spectre.Console.Cli;
using WoodFisher.Cli.Infrastructure;
using WoodFisher.IO;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Models.Training;
using WoodFisher.Pruning;
using WoodFisher.Pruning.Studies;

namespace WoodFisher.Cli.Commands;

/// <summary>
/// <c>woodfisher study</c>: approximation quality of inverse-curvature estimators against the exact damped Hessian
/// inverse on a small trained model (or a few of its layers): matrix fidelity, loss-change prediction, one-shot pruning
/// curves and cost, written as summary.md, CSV files and PNG plots.
/// </summary>
internal sealed class StudyCommand : Command<StudyCommand.Settings>
{
    public const string DefaultArch = "mlp:784-40-20-10:nobias";

    public sealed class Settings : CommandSettings
    {
        [CommandOption("--model <FILE>")]
        [Description("Trained weights (.safetensors). Without it, --arch is trained for --epochs on the training data first.")]
        public string? Model { get; init; }

        [CommandOption("--arch <SPEC>")]
        [Description("Model spec, e.g. mlp:784-40-20-10:nobias (default: read from the file, else " + DefaultArch + ").")]
        public string? Arch { get; init; }

        [CommandOption("--data <DIR>")]
        [Description("Directory with Fashion-MNIST IDX files (default: WOODFISHER_DATA, /usr/share/datasets/fashion-mnist, else the embedded slice).")]
        public string? Data { get; init; }

        [CommandOption("--layers <NAMES>")]
        [Description("Comma-separated layers (fc2,fc3) or parameter names whose weights are studied. Default: the last layers whose weights total at most --max-exact.")]
        public string? Layers { get; init; }

        [CommandOption("--estimators <LIST>")]
        [Description("Comma-separated estimator specs kind[:key=value,...], e.g. exact,woodfisher:c=50,lambda=1e-4,kfac (keys: c, lambda, samples, minibatch, seed, strategy, backend, precision, treatment, name).")]
        [DefaultValue("exact,woodfisher:c=50,woodfisher:c=200,kfac,diagfisher,identity")]
        public string Estimators { get; init; } = "exact,woodfisher:c=50,woodfisher:c=200,kfac,diagfisher,identity";

        [CommandOption("--samples <N>")]
        [Description("Training samples for the Hessian, the estimators and the loss changes.")]
        [DefaultValue(1000)]
        public int Samples { get; init; } = 1000;

        [CommandOption("--damping <LAMBDA>")]
        [Description("Damping λ of every estimator (unless its spec sets lambda) and of the exact reference.")]
        [DefaultValue(1e-5)]
        public double Damping { get; init; } = 1e-5;

        [CommandOption("--treatment <T>")]
        [Description("Negative Hessian eigenvalues in the exact reference: abs (|μ| + λ), clip (max(μ,0) + λ) or damping (μ + λ).")]
        [DefaultValue("abs")]
        public string Treatment { get; init; } = "abs";

        [CommandOption("--sparsities <LIST>")]
        [Description("Comma-separated target sparsities of the one-shot curves.")]
        [DefaultValue("0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,0.98")]
        public string Sparsities { get; init; } = "0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,0.98";

        [CommandOption("--weights-sampled <N>")]
        [Description("Single weights removed in the loss-change study.")]
        [DefaultValue(200)]
        public int WeightsSampled { get; init; } = 200;

        [CommandOption("--block-size <C>")]
        [Description("Block size of the per-block errors (default: the smallest WoodFisher c).")]
        public int? BlockSize { get; init; }

        [CommandOption("--max-exact <D>")]
        [Description("Largest number of studied coordinates d (the exact Hessian costs d Hessian-vector passes and a d×d eigendecomposition).")]
        [DefaultValue(2000)]
        public int MaxExact { get; init; } = 2000;

        [CommandOption("--test-samples <N>")]
        [Description("Test samples the pruning curves are evaluated on (default: all).")]
        public int? TestSamples { get; init; }

        [CommandOption("--epochs <N>")]
        [Description("Epochs of training when no --model is given.")]
        [DefaultValue(2)]
        public int Epochs { get; init; } = 2;

        [CommandOption("--seed <N>")]
        [Description("Seed of the sample subset, the true-Fisher labels, the sampled weights and the default training.")]
        [DefaultValue(0)]
        public int Seed { get; init; }

        [CommandOption("--out-dir <DIR>")]
        [Description("Where summary.md, *.csv and *.png are written.")]
        public string OutDir { get; init; } = "";

        public override Spectre.Console.ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(OutDir))
                return Spectre.Console.ValidationResult.Error("--out-dir is required.");
            if (Samples < 1)
                return Spectre.Console.ValidationResult.Error("--samples must be at least 1.");
            if (WeightsSampled < 0)
                return Spectre.Console.ValidationResult.Error("--weights-sampled must be at least 0.");
            if (!(Damping > 0))
                return Spectre.Console.ValidationResult.Error("--damping must be positive.");
            return Spectre.Console.ValidationResult.Success();
        }
    }

    public override int Execute(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var train = DataSets.Load(settings.Data, "train");
        var test = DataSets.Load(settings.Data, "test");
        var model = settings.Model is null ? TrainDefault(settings, train) : CliModels.Load(settings.Model, settings.Arch);
        var selection = SelectLayers(model, settings.Layers, settings.MaxExact);
        try
        {
            ApproximationStudy.EnsureExactFits(selection.Dimension, settings.MaxExact);
        }
        catch (InsufficientMemoryException ex)
        {
            // Program.Main lets OutOfMemoryException (InsufficientMemoryException's base) crash: report a usage error instead.
            throw new ArgumentException($"{ex.Message} Pass --layers with fewer layers ({Sizes(ParameterSelection<float>.Prunable(model))}) or raise --max-exact.", ex);
        }

        var treatment = ParseTreatment(settings.Treatment);
        var defaults = new EstimatorSpec { Samples = Math.Min(settings.Samples, train.Count), Damping = settings.Damping, Seed = settings.Seed, Treatment = treatment };
        var options = new StudyOptions
        {
            Estimators = ParseEstimators(settings.Estimators, defaults),
            Samples = Math.Min(settings.Samples, train.Count),
            Damping = settings.Damping,
            Treatment = treatment,
            Seed = settings.Seed,
            Sparsities = ParseList(settings.Sparsities, "--sparsities"),
            WeightsSampled = settings.WeightsSampled,
            BlockSize = settings.BlockSize,
            MaxExactDimension = settings.MaxExact,
            TestSamples = settings.TestSamples,
        };
        CliConsole.Note($"study: {model.Spec}, layers {Sizes(selection)} (d = {selection.Dimension}), {options.Samples} samples from {train.Name}, {options.EffectiveEstimators.Count} estimators");

        StudyResult result;
        using (var progress = new PhaseProgress())
            result = ApproximationStudy.Run(model, selection, train, test, options, progress);

        var files = StudyRendering.WriteAll(result, settings.OutDir, train.Name, test.Name);
        foreach (var f in files)
            CliConsole.Line(f);
        return 0;
    }

    /// <summary>
    /// Splits "exact,woodfisher:c=50,lambda=1e-4,kfac" into specs: a token with '=' but no ':' continues the previous spec
    /// (';' also separates keys inside one spec).
    /// </summary>
    internal static IReadOnlyList<EstimatorSpec> ParseEstimators(string text, EstimatorSpec defaults)
    {
        var specs = new List<string>();
        foreach (var token in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (token.Contains('=') && !token.Contains(':') && specs.Count > 0)
                specs[^1] += "," + token;
            else
                specs.Add(token);
        }
        if (specs.Count == 0)
            throw new FormatException("--estimators: no estimator given.");
        return [.. specs.Select(s => EstimatorSpec.Parse(s.Replace(';', ','), defaults))];
    }

    private static double[] ParseList(string text, string option) =>
        [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(t =>
            double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : throw new FormatException($"{option}: '{t}' is not a number."))];

    private static IndefiniteTreatment ParseTreatment(string text) => text.Trim().ToLowerInvariant() switch
    {
        "abs" or "absolute" => IndefiniteTreatment.Absolute,
        "clip" => IndefiniteTreatment.Clip,
        "damping" or "none" => IndefiniteTreatment.DampingOnly,
        _ => throw new FormatException($"--treatment: '{text}' is not abs, clip or damping."),
    };

    private static string Sizes(ParameterSelection<float> selection) =>
        string.Join(", ", selection.Entries.Select(e => $"{e.Name} {e.Length}"));

    /// <summary>The named layers' weights, or by default the trailing prunable layers whose weights total at most <paramref name="maxExact"/> (at least the last one).</summary>
    internal static ParameterSelection<float> SelectLayers(IModel<float> model, string? layers, int maxExact)
    {
        if (!string.IsNullOrWhiteSpace(layers))
        {
            var names = layers.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(n => model.Parameters.Any(p => p.Name == n) ? n : n + ".weight");
            return ParameterSelection<float>.ByNames(model, names);
        }

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

    private static IModel<float> TrainDefault(Settings settings, Dataset train)
    {
        var arch = settings.Arch ?? DefaultArch;
        var model = ModelFactory.Create(arch, settings.Seed);
        var options = new TrainerOptions { Epochs = settings.Epochs, Seed = settings.Seed };
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
