using System.Diagnostics;
using System.Globalization;
using WoodFisher.IO;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Models.Data;
using WoodFisher.Pruning;

namespace WoodFisher.Fidelity;

/// <summary>The runs on one model: one-shot methods, λ and block-size sweeps, recompute steps, tensor mode from PyTorch's G.</summary>
internal sealed class ModelRuns
{
    private readonly string _name;
    private readonly string _dir;
    private readonly IModel<float> _model;
    private readonly ParameterSelection<float> _selection;
    private readonly ModelCurvature _curvature;
    private readonly Dataset _test;
    private readonly double[] _dense;
    private readonly Results _results;
    private readonly int _samples;

    public ModelRuns(string name, string dir, Dataset train, Dataset test, Results results, int samples)
    {
        _name = name;
        _dir = dir;
        _model = ModelFiles.Load(Path.Combine(dir, name + ".safetensors"));
        _selection = ParameterSelection<float>.Prunable(_model);
        _curvature = new ModelCurvature(_model, _selection, train.Images, train.Labels);
        _test = test;
        _dense = _curvature.GetWeights();
        _results = results;
        _samples = samples;
    }

    public string Spec => _model.Spec;

    public EvaluationResult Evaluate(ReadOnlySpan<double> weights)
    {
        _curvature.SetWeights(weights);
        return Evaluation.Evaluate(_model, _test.Images, _test.Labels, _test.Count);
    }

    public void Dense()
    {
        if (!_results.Has(new Row(_name, "dense", "dense", 0, "", 0, 0, 0, 0, 0, 0).Key))
        {
            Record("dense", "dense", 0, "", _dense, double.NaN, double.NaN, double.NaN, 0);
        }
    }

    /// <summary>Global magnitude, diagonal Fisher, K-FAC, WoodFisher (auto, with every λ's test accuracy; and the old fixed default), WoodTaylor.</summary>
    public void OneShot(double s, int block)
    {
        Run("oneshot", "magnitude", s, "", PruningMethod.Magnitude, block, Damping.Auto, 1);
        Run("oneshot", "diagfisher", s, "λ=auto", PruningMethod.DiagonalFisher, block, Damping.Auto, 1);
        Run("oneshot", "kfac", s, $"c={block} λ=auto", PruningMethod.Kfac, block, Damping.Auto, 1);
        Run("oneshot", "woodfisher", s, $"c={block} λ=auto", PruningMethod.WoodFisher, block, Damping.Auto, 1, "lambda");
        Run("oneshot", "woodfisher", s, "c=100 λ=1e-05", PruningMethod.WoodFisher, 100, 1e-5, 1);
        Run("oneshot", "woodtaylor", s, $"c={block} λ=auto η=auto", PruningMethod.WoodTaylor, block, Damping.Auto, 1);
    }

    /// <summary>WoodFisher as <c>woodfisher prune</c> runs with no --block and no --damping: c and λ automatic, the grid walked.</summary>
    public void Defaults(double s) =>
        Run("defaults", "woodfisher", s, "c=auto λ=auto", PruningMethod.WoodFisher, EstimatorSpec.AutoBlockSize, Damping.Auto, 1, walk: true);

    /// <summary>
    /// The cost of the automatic damping at the default block size, alternated within one run so that load affects all
    /// alike: λ fixed at the defaults' choice, the walked grid (the default: one Gram per block for every λ), the walked grid
    /// rebuilt per λ with the same Dense arithmetic (strategy=dense), the whole grid, and the whole grid at c = 100,
    /// <paramref name="repeats"/> times each.
    /// </summary>
    public void Cost(double s, int repeats)
    {
        var chosen = _results.Rows.FirstOrDefault(r => r.Model == _name && r.Part == "defaults" && r.Sparsity == s)?.Lambda ?? 1e-4;
        for (var i = 1; i <= repeats; i++)
        {
            Run("cost", "woodfisher", s, string.Create(CultureInfo.InvariantCulture, $"c=auto λ={chosen:g3} #{i}"), PruningMethod.WoodFisher, EstimatorSpec.AutoBlockSize, chosen, 1);
            Run("cost", "woodfisher", s, $"c=auto λ=auto walk #{i}", PruningMethod.WoodFisher, EstimatorSpec.AutoBlockSize, Damping.Auto, 1, walk: true);
            Run("cost", "woodfisher", s, $"c=auto λ=auto walk strategy=dense #{i}", PruningMethod.WoodFisher, EstimatorSpec.AutoBlockSize, Damping.Auto, 1, walk: true, strategy: WoodburyStrategy.Dense);
            Run("cost", "woodfisher", s, $"c=auto λ=auto whole grid #{i}", PruningMethod.WoodFisher, EstimatorSpec.AutoBlockSize, Damping.Auto, 1);
            Run("cost", "woodfisher", s, $"c=100 λ=auto whole grid #{i}", PruningMethod.WoodFisher, 100, Damping.Auto, 1);
        }
    }

    /// <summary>WoodFisher at automatic λ for each block size, with every λ's test accuracy.</summary>
    public void Blocks(double s, IEnumerable<int> blocks)
    {
        foreach (var c in blocks)
        {
            Run("blocks", "woodfisher", s, $"c={c} λ=auto", PruningMethod.WoodFisher, c, Damping.Auto, 1, "blocks-lambda");
        }
    }

    /// <summary>WoodFisher with K cubic recompute steps (λ chosen per step), and magnitude with the same steps.</summary>
    public void Recompute(double s, int block, int steps)
    {
        Run("recompute", "woodfisher", s, $"K={steps} c=auto λ=auto", PruningMethod.WoodFisher, EstimatorSpec.AutoBlockSize, Damping.Auto, steps, walk: true);
        Run("recompute", "magnitude", s, $"K={steps}", PruningMethod.Magnitude, block, Damping.Auto, steps);
        Run("recompute", "woodfisher", s, $"K={steps} c={block} λ=auto", PruningMethod.WoodFisher, block, Damping.Auto, steps);
    }

    /// <summary>
    /// Tensor mode from PyTorch's G (functorch gradients) and the flat weights only: λ by the held-out criterion, and
    /// every fixed λ of the grid (all rows) for the measured best.
    /// </summary>
    public void Tensor(double s, int block)
    {
        using var source = new NpyGradientSource(Path.Combine(_dir, _name + ".G.npy"), _selection.Segments);
        var options = new EstimatorSpec { BlockSize = block };
        var w = Npy.Read(Path.Combine(_dir, _name + ".W.npy")).ToFloat64();
        TensorRun(s, $"c={block} λ=auto", source, options, Damping.Auto, w);
        foreach (var lambda in Damping.DefaultGrid)
        {
            TensorRun(s, string.Create(CultureInfo.InvariantCulture, $"c={block} λ={lambda:g3}"), source, options, lambda, w);
        }
    }

    /// <summary>Our per-sample gradients of the first rows against functorch's G: max |Δ| / max |G|.</summary>
    public void CompareGradients(Dataset train)
    {
        var key = new Row(_name, "grads", "functorch", 0, "", 0, 0, 0, 0, 0, 0).Key;
        if (_results.Has(key))
        {
            return;
        }

        var g = Npy.Read(Path.Combine(_dir, _name + ".G.npy")).ToFloat64();
        var d = _selection.Dimension;
        var rows = Math.Min(g.Length / d, 200);
        _curvature.SetWeights(_dense);
        var ours = PerSampleGradients.Compute(_model, train.Images, train.Labels, rows, _selection);
        double diff = 0, scale = 0;
        for (var i = 0; i < rows * d; i++)
        {
            diff = Math.Max(diff, Math.Abs(ours[i] - g[i]));
            scale = Math.Max(scale, Math.Abs(g[i]));
        }

        _results.Add(new Row(_name, "grads", "functorch", 0, "", double.NaN, double.NaN, diff / scale, double.NaN, double.NaN, 0));
    }

    private void TensorRun(double s, string setting, NpyGradientSource source, EstimatorSpec options, Damping damping, double[] w)
    {
        if (_results.Has(new Row(_name, "tensor", "woodfisher", s, setting, 0, 0, 0, 0, 0, 0).Key))
        {
            return;
        }

        var curvature = new GradientCurvature(source, options with { Damping = damping });
        var log = new List<(double Lambda, double Criterion, EvaluationResult Test)>();
        CurvatureFactory factory = damping.IsAuto ? (_, mask) => new RecordingSample(curvature.Sample(mask), x => Evaluate(x), b => _curvature.SetWeights(b), log) : curvature.Factory();
        var sw = Stopwatch.StartNew();
        var result = new Pruner(new PrunerOptions { Sparsity = s, Segments = _selection.Segments, WholeDampingGrid = true }).Prune(w, factory);
        var seconds = sw.Elapsed.TotalSeconds;
        foreach (var (lambda, criterion, test) in log)
        {
            Record("tensor-lambda", "woodfisher", s, string.Create(CultureInfo.InvariantCulture, $"c={options.BlockSize} λ={lambda:g3} (fit rows)"), null, lambda, double.NaN, criterion, 0, test);
        }

        var chosen = result.Steps[0].Damping?.Chosen ?? damping.Value;
        Record("tensor", "woodfisher", s, setting, result.Weights, chosen, double.NaN, double.NaN, seconds);
    }

    private void Run(string part, string method, double s, string setting, PruningMethod pm, int block, Damping damping, int steps, string? lambdaPart = null, bool walk = false, WoodburyStrategy strategy = WoodburyStrategy.Auto)
    {
        if (_results.Has(new Row(_name, part, method, s, setting, 0, 0, 0, 0, 0, 0).Key))
        {
            return;
        }

        var spec = new EstimatorSpec { Method = pm, BlockSize = block, Damping = damping, Samples = _samples, Strategy = strategy };
        // The defaults walk the λ grid; the other rows try every λ (each one's test accuracy is recorded).
        var options = new PrunerOptions { Method = pm, Sparsity = s, Segments = _selection.Segments, RecomputeSteps = steps, WholeDampingGrid = !walk };
        var log = new List<(double Lambda, double Criterion, EvaluationResult Test)>();
        var build = pm == PruningMethod.Magnitude ? null : _curvature.Factory(spec, pm == PruningMethod.WoodTaylor);
        CurvatureFactory? factory = build is null ? null : lambdaPart is null ? build : (w, mask) => new RecordingSample(build(w, mask), x => Evaluate(x), b => _curvature.SetWeights(b), log);
        var sw = Stopwatch.StartNew();
        var result = new Pruner(options).Prune(_dense, factory);
        var seconds = sw.Elapsed.TotalSeconds;
        foreach (var (lambda, criterion, test) in log)
        {
            Record(lambdaPart!, method, s, string.Create(CultureInfo.InvariantCulture, $"c={block} λ={lambda:g3}"), null, lambda, double.NaN, criterion, 0, test);
        }

        var last = result.Steps[^1].Damping;
        if (part == "cost")
        {
            // The inverse phase alone (every λ tried), where reusing the block Gram across λ shows without the rest.
            _results.Add(new Row(_name, "cost-inverse", method, s, setting, last?.Chosen ?? double.NaN, double.NaN, double.NaN, double.NaN, double.NaN, result.Timings.Inverse));
        }

        Record(part, method, s, setting, result.Weights, last?.Chosen ?? (damping.IsAuto ? double.NaN : damping.Value), last?.ChosenGradientStep ?? double.NaN, double.NaN, seconds);
    }

    private void Record(string part, string method, double s, string setting, double[]? weights, double lambda, double eta, double criterion, double seconds, EvaluationResult? test = null)
    {
        var e = test ?? Evaluate(weights!);
        _curvature.SetWeights(_dense);
        _results.Add(new Row(_name, part, method, s, setting, lambda, eta, criterion, e.Accuracy, e.Loss, seconds));
    }
}

/// <summary>A curvature sample that also measures the test accuracy of every damping candidate it judges.</summary>
internal sealed class RecordingSample : CurvatureSample
{
    private readonly CurvatureSample _inner;
    private readonly Func<double[], EvaluationResult> _test;
    private readonly Action<double[]> _restore;
    private readonly List<(double Lambda, double Criterion, EvaluationResult Test)> _log;
    private double _lambda = double.NaN;

    public RecordingSample(CurvatureSample inner, Func<double[], EvaluationResult> test, Action<double[]> restore, List<(double, double, EvaluationResult)> log)
    {
        _inner = inner;
        _test = test;
        _restore = restore;
        _log = log;
        Gradient = inner.Gradient;
        GradientSeconds = inner.GradientSeconds;
    }

    public override IReadOnlyList<double> DampingGrid => _inner.DampingGrid;

    public override bool CanJudge => _inner.CanJudge;

    public override string CriterionName => _inner.CriterionName;

    public override bool RebuildChosen => _inner.RebuildChosen;

    public override CurvatureEstimate Build() => _inner.Build();

    public override CurvatureEstimate Build(double damping) => _inner.Build(damping);

    public override CurvatureEstimate BuildCandidate(double damping)
    {
        _lambda = damping;
        return _inner.BuildCandidate(damping);
    }

    public override bool OneStandardErrorRule => _inner.OneStandardErrorRule;

    public override CriterionValue Criterion(ReadOnlySpan<double> before, ReadOnlySpan<double> after, ReadOnlySpan<bool> mask)
    {
        var value = _inner.Criterion(before, after, mask);
        _log.Add((_lambda, value.Value, _test(after.ToArray())));
        _restore(before.ToArray());
        return value;
    }

    protected override void Dispose(bool disposing) => _inner.Dispose();
}
