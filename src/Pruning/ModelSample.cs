using System.Diagnostics;
using System.Globalization;
using WoodFisher.Kernels;
using WoodFisher.Models;
using WoodFisher.Pruning.Internal;

namespace WoodFisher.Pruning;

/// <summary>
/// <see cref="ModelCurvature.Sample"/>'s statistics at the model's current weights: per-sample gradients of the
/// surviving weights (held in memory for a damping search when they fit the <see cref="MemoryBudget"/>, else
/// recomputed per λ), the diagonal Fisher, K-FAC factors or the exact Hessian, and the calibration loss that judges a
/// damping candidate.
/// </summary>
internal sealed class ModelSample : CurvatureSample
{
    private readonly ModelCurvature _owner;
    private readonly EstimatorSpec _spec;
    private readonly bool[] _mask;
    private readonly double[] _weights;
    private readonly float[] _x;
    private readonly int[] _y;
    private readonly double[]? _fisherDiagonal;
    private readonly IReadOnlyList<KfacLayer>? _kfac;
    private readonly double[]? _hessian;
    private readonly GradientMatrix? _rows;
    private (float[] X, int[] Labels)? _calibration;

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
            var g = Array.ConvertAll(Curvature.MeanGradient(owner.Model, _x, _y, _y.Length, owner.Selection), v => (double)v);
            MaskedGradientSource.Apply(g, _mask);
            Gradient = g;
        }

        var search = spec.Damping.IsAuto && spec.Kind != EstimatorKind.Identity;
        switch (spec.Kind)
        {
            case EstimatorKind.DiagonalFisher:
                {
                    var stats = GradientStatistics.Compute(Source());
                    _fisherDiagonal = new double[d];
                    for (var i = 0; i < d; i++)
                    {
                        _fisherDiagonal[i] = stats.SumOfSquares[i] / stats.Rows;
                    }

                    break;
                }

            case EstimatorKind.WoodFisher when search:
                {
                    var rows = Source();
                    if (MemoryBudget.Fits(GradientMatrix.BytesFor(rows.Count, d), 0.5))
                    {
                        _rows = GradientMatrix.Read(rows);
                    }

                    break;
                }

            case EstimatorKind.Kfac:
                _kfac = owner.KfacLayers(_x, _y, _y.Length);
                break;
            case EstimatorKind.Exact:
                {
                    Curvature.EnsureDenseFits(d);
                    _hessian = Curvature.Hessian(owner.Model, _x, _y, _y.Length, owner.Selection);
                    DenseLinearAlgebra.Symmetrize(_hessian, d);
                    for (var q = 0; q < d; q++)
                    {
                        if (!_mask[q])
                        {
                            _hessian.AsSpan(q * d, d).Clear();
                            for (var i = 0; i < d; i++)
                            {
                                _hessian[(i * d) + q] = 0;
                            }
                        }
                    }

                    break;
                }
        }

        GradientSeconds = sw.Elapsed.TotalSeconds;
        DampingGrid = search ? spec.Damping.Candidates : [];
    }

    public override IReadOnlyList<double> DampingGrid { get; }

    public override bool CanJudge => true;

    public override string CriterionName => string.Create(CultureInfo.InvariantCulture, $"calibration loss ({Calibration().Labels.Length} samples)");

    public override CurvatureEstimate Build() => Build(_spec.Kind == EstimatorKind.Identity ? 1 : _spec.Damping.Value);

    public override CurvatureEstimate Build(double damping)
    {
        var d = _owner.Selection.Dimension;
        switch (_spec.Kind)
        {
            case EstimatorKind.Identity:
                return new CurvatureEstimate(new IdentityCurvature(d)) { Gradient = Gradient };
            case EstimatorKind.DiagonalFisher:
                return new CurvatureEstimate(new DiagonalFisherCurvature(_fisherDiagonal!, damping)) { Gradient = Gradient };
            case EstimatorKind.Kfac:
                return new CurvatureEstimate(new KfacCurvature(_kfac!, damping, _spec.KfacDamping, _spec.BlockSize)) { Gradient = Gradient };
            case EstimatorKind.Exact:
                return new CurvatureEstimate(new DenseCurvature(_hessian!, d, damping, _spec.Treatment)) { Gradient = Gradient };
            case EstimatorKind.WoodFisher:
                {
                    // Without held rows, gradients are produced chunk by chunk as the builder consumes them (the source times
                    // its share), at this sample's weights even if the model has moved on since (a search over whole runs).
                    if (_rows is null)
                    {
                        _owner.SetWeights(_weights);
                    }

                    var timed = new ModelCurvature.TimedGradientSource(_rows ?? (IGradientSource)Source());
                    var options = new WoodFisherOptions
                    {
                        BlockSize = _spec.BlockSize,
                        Damping = damping,
                        Segments = _owner.Selection.Segments,
                        Strategy = _spec.Strategy,
                        Backend = _spec.Backend,
                        Precision = _spec.Precision,
                    };
                    var inverse = WoodFisherCurvature.FromGradients(timed, options);
                    return new CurvatureEstimate(inverse) { Gradient = Gradient, GradientSeconds = _rows is null ? timed.Seconds : 0 };
                }

            default:
                throw new ArgumentOutOfRangeException(nameof(damping), _spec.Kind, "Unknown estimator kind.");
        }
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
