using System.Diagnostics;
using System.Globalization;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning.Methods;

namespace WoodFisher.Pruning;

/// <summary>
/// <see cref="ModelCurvature.Sample"/>'s statistics at the model's current weights: per-sample gradients of the
/// surviving weights (held in memory for a damping search: as factors when they have that form, as rows when those fit
/// the <see cref="MemoryBudget"/> beside the build's working set, else recomputed per λ, chunk by chunk), or the method's own model statistics
/// (<see cref="PruningMethod.ModelStatistics"/>: K-FAC factors, the exact Hessian), and the calibration loss that judges
/// a damping candidate.
/// </summary>
internal sealed class ModelSample : CurvatureSample
{
    private readonly ModelCurvature _owner;
    private readonly EstimatorSpec _spec;
    private readonly bool[] _mask;
    private readonly double[] _weights;
    private readonly float[] _x;
    private readonly int[] _y;
    private readonly Func<double, IInverseCurvature>? _statistics;
    private readonly IGradientSource? _rows;
    private (float[] X, int[] Labels)? _calibration;
    private readonly LazyDampingSweep _sweep;

    public ModelSample(ModelCurvature owner, EstimatorSpec spec, bool[] mask, bool withGradient)
    {
        _owner = owner;
        _spec = spec;
        _mask = mask.Length == 0 ? Enumerable.Repeat(true, owner.Selection.Dimension).ToArray() : mask;
        _weights = owner.GetWeights();
        (_x, _y) = owner.Subset(spec.Samples, spec.Seed);
        var d = owner.Selection.Dimension;
        var sw = Stopwatch.StartNew();
        if (withGradient)
        {
            var g = Array.ConvertAll(LossGradient.Mean(owner.Model, _x, _y, _y.Length, owner.Selection), v => (double)v);
            MaskedGradientSource.Apply(g, _mask);
            Gradient = g;
        }

        var search = spec.Damping.IsAuto && spec.Method.UsesCurvature;
        _statistics = spec.Method.ModelStatistics(owner, _x, _y, spec, _mask);
        if (_statistics is null && search)
        {
            // Held for the search only when they fit beside the build's working set (and within half the budget);
            // otherwise recomputed per λ in budget-bounded chunks: the same rows, so the same estimates and choice.
            var rows = Source();
            if (rows.Factors() is { } factors)
            {
                _rows = new GradientFactorsSource(factors, rows.Segments);
            }
            else
            {
                var held = GradientMatrix.BytesFor(rows.Count, d);
                var working = spec.Method is WoodFisherMethod ? WoodFisherMethod.Plan(rows, spec with { MiniBatch = 1 })?.TotalBytes ?? 0 : 0;
                if (MemoryBudget.Fits(held, 0.5) && MemoryBudget.Fits(MemoryBudget.Sum(held, working)))
                {
                    _rows = GradientMatrix.Read(rows);
                }
            }
        }

        GradientSeconds = sw.Elapsed.TotalSeconds;
        DampingGrid = search ? spec.Damping.Candidates : [];

        // With held rows and a search, one Gram per block for every λ.
        _sweep = new LazyDampingSweep(() => _rows is not null && DampingGrid.Count > 1 ? DampingSweep.TryCreate(_rows, _spec) : null);
    }

    public override IReadOnlyList<double> DampingGrid { get; }

    public override bool CanJudge => true;

    public override string CriterionName => string.Create(CultureInfo.InvariantCulture, $"calibration loss ({Calibration().Labels.Length} samples)");

    public override CurvatureEstimate Build() => Build(_spec.DampingValue);

    public override CurvatureEstimate Build(double damping)
    {
        if (_statistics is not null)
        {
            return new CurvatureEstimate(_statistics(damping)) { Gradient = Gradient };
        }

        if (_sweep.TryBuild(damping, Gradient) is { } swept)
        {
            return swept;
        }

        // Without held rows, gradients are produced chunk by chunk as the builder consumes them (the source times its
        // share), at this sample's weights even if the model has moved on since (a search over whole runs).
        if (_rows is null)
        {
            _owner.SetWeights(_weights);
        }

        var timed = new TimedGradientSource(_rows ?? (IGradientSource)Source());

        // Per-sample rows are already averaged per mini-batch.
        var inverse = _spec.Method.FromGradients(timed, _spec with { Damping = damping, MiniBatch = 1 });
        return new CurvatureEstimate(inverse) { Gradient = Gradient, GradientSeconds = _rows is null ? timed.Seconds : 0 };
    }

    /// <summary>Mean cross-entropy of the model with <paramref name="after"/> written in, on the calibration samples.</summary>
    public override CriterionValue Criterion(ReadOnlySpan<double> before, ReadOnlySpan<double> after, ReadOnlySpan<bool> mask)
    {
        var (x, y) = Calibration();
        _owner.SetWeights(after);
        try
        {
            return Evaluation.Evaluate(_owner.Model, x, y, y.Length).Loss;
        }
        finally
        {
            // Gradients recomputed for the next candidate (when they are not held) must see the step's starting weights.
            _owner.SetWeights(before);
        }
    }

    /// <inheritdoc />
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _sweep.Dispose();
        }

        base.Dispose(disposing);
    }

    private MaskedGradientSource Source() =>
        new(new PerSampleGradientSource(_owner.Model, _x, _y, _y.Length, _owner.Selection, _spec.MiniBatch), _mask);

    private (float[] X, int[] Labels) Calibration()
    {
        if (_calibration is null)
        {
            var available = _owner.SampleCount - _spec.Samples;
            var count = Math.Min(_owner.CalibrationSamples, available);
            _calibration = count > 0 ? _owner.Subset(_spec.Samples, count, _spec.Seed) : (_x, _y);
        }

        return _calibration.Value;
    }
}
