using System.Diagnostics;
using System.Globalization;
using WoodFisher.Kernels;
using WoodFisher.Models;

namespace WoodFisher.Pruning;

/// <summary>
/// Curvature samples from a fixed set of gradient rows G (m × d): tensor and any-architecture modes, where only the
/// weights and G are known. At each pruning step the estimate is rebuilt from the gradients of the surviving weights
/// (<see cref="MaskedGradientSource"/>), so recompute steps re-estimate rather than reuse one inverse.
/// With <see cref="Damping.Auto"/>, λ is chosen per step from gradients alone: every
/// <see cref="HeldOutEvery"/>-th row is held out, the estimate is fitted on the others for each λ of the grid, and the
/// step's weight change δ is judged by the local model of the loss on the held-out rows,
/// ΔL̂(δ) = ½·(1/m_h)Σ_{r held out}(g_rᵀδ)² (plus ḡ_hᵀδ, their mean gradient, for WoodTaylor, the one method that
/// uses g): small λ lets δ move freely in directions the fitted rows never saw, which held-out rows do see. Because this
/// quadratic model cannot see the loss leave it at high sparsity, the pruner keeps the largest λ within one standard
/// error of the lowest value (<see cref="CurvatureSample.OneStandardErrorRule"/>). The chosen λ is then rebuilt from all rows.
/// </summary>
public sealed class GradientCurvature
{
    private readonly IGradientSource _source;

    /// <summary>Creates the factory.</summary>
    /// <param name="source">The gradient rows (read once per step; from the start each time); its segments are the layers.</param>
    /// <param name="spec">The method (one that runs from gradient rows: magnitude, diagfisher, woodfisher, woodtaylor), its
    /// damping (fixed or <see cref="Damping.Auto"/>) and the other estimator settings.</param>
    /// <exception cref="NotSupportedException">The method needs the model (K-FAC, the exact Hessian: <see cref="ModelCurvature"/>).</exception>
    public GradientCurvature(IGradientSource source, EstimatorSpec spec)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(spec);
        if (spec.Method.NeedsModel)
        {
            throw new NotSupportedException($"{spec.Method.Name} needs the model ({spec.Method.Summary}), not gradient rows alone; use ModelCurvature, or one of {string.Join(", ", PruningMethod.All.Where(m => !m.NeedsModel).Select(m => m.Name))}.");
        }

        spec.Validate();
        _source = source;
        Spec = spec;
    }

    /// <summary>The method, damping and estimator settings.</summary>
    public EstimatorSpec Spec { get; }

    /// <summary>With automatic damping, rows r with r mod <see cref="HeldOutEvery"/> = <see cref="HeldOutEvery"/> − 1 are held out (default 4: a quarter).</summary>
    public int HeldOutEvery { get; init; } = DefaultHeldOutEvery;

    /// <summary>The default of <see cref="HeldOutEvery"/>: a quarter of the rows held out.</summary>
    public const int DefaultHeldOutEvery = 4;

    /// <summary>The factory <see cref="Pruner"/> calls per step (the weights are not needed: G is fixed).</summary>
    /// <param name="withGradient">Also the mean gradient ḡ of the surviving weights (WoodTaylor's g; always for a method that uses it).</param>
    public CurvatureFactory Factory(bool withGradient = false) => (_, mask) => Sample(mask, withGradient);

    /// <summary>The sample for one step under <paramref name="mask"/> (length d, true = kept; empty = all kept).</summary>
    /// <exception cref="ArgumentException">Automatic damping with fewer than 2 held-out rows, or a mask of the wrong length.</exception>
    /// <exception cref="InsufficientMemoryException">Automatic damping holds G in memory and it does not fit the <see cref="MemoryBudget"/>.</exception>
    public CurvatureSample Sample(ReadOnlySpan<bool> mask = default, bool withGradient = false)
    {
        withGradient |= Spec.Method.UsesLossGradient;
        var source = mask.IsEmpty ? _source : MaskedGradientSource.Over(_source, mask);
        var sw = Stopwatch.StartNew();
        if (!Spec.Method.UsesCurvature || !Spec.Damping.IsAuto)
        {
            var gradient = withGradient ? GradientStatistics.Compute(source).Mean : null;
            return new Streamed(this, source, gradient, sw.Elapsed.TotalSeconds);
        }

        var m = source.Count;
        var step = HeldOutEvery;
        if (step < 2 || m < 2L * step)
        {
            throw new ArgumentException($"Automatic damping holds out every {step}th gradient row and needs at least {2 * step} rows; the source has {m}. Give a fixed damping.", nameof(mask));
        }

        // Held-out rows go to the end, so the fitted rows and the held-out rows are each one contiguous range.
        var heldOut = (int)(m / step);
        var fit = (int)m - heldOut;
        var order = new int[m];
        int f = 0, h = fit;
        for (var r = 0; r < m; r++)
        {
            order[r] = r % step == step - 1 && h < m ? h++ : f++;
        }

        var rows = GradientMatrix.Read(source, order);
        return new Searched(this, rows, fit, withGradient ? rows.Mean() : null, sw.Elapsed.TotalSeconds);
    }

    private CurvatureEstimate Build(IGradientSource rows, double damping) => new(Spec.Method.FromGradients(rows, Spec with { Damping = damping }));

    /// <summary>Fixed λ: rows stream from the source into one estimate.</summary>
    private sealed class Streamed : CurvatureSample
    {
        private readonly GradientCurvature _owner;
        private readonly IGradientSource _rows;

        public Streamed(GradientCurvature owner, IGradientSource rows, double[]? gradient, double seconds)
        {
            _owner = owner;
            _rows = rows;
            Gradient = gradient;
            GradientSeconds = seconds;
        }

        public override CurvatureEstimate Build() => _owner.Build(_rows, _owner.Spec.DampingValue);

        public override CurvatureEstimate Build(double damping) => _owner.Build(_rows, damping);
    }

    /// <summary>Automatic λ: rows held in memory, the last ones held out to judge each candidate.</summary>
    private sealed class Searched : CurvatureSample
    {
        private readonly GradientCurvature _owner;
        private readonly GradientMatrix _all;
        private readonly GradientMatrix _fit;
        private readonly GradientMatrix _heldOut;
        private readonly LazyDampingSweep _sweep;

        public Searched(GradientCurvature owner, GradientMatrix rows, int fit, double[]? gradient, double seconds)
        {
            _owner = owner;
            _all = rows;
            _fit = rows.Rows(0, fit);
            _heldOut = rows.Rows(fit, rows.RowCount - fit);

            // Rows averaged per mini-batch are left to the rebuild.
            _sweep = new LazyDampingSweep(() => DampingGrid.Count > 1 && owner.Spec.MiniBatch <= 1 ? DampingSweep.TryCreate(_fit, owner.Spec) : null);
            Gradient = gradient;
            GradientSeconds = seconds;
        }

        public override IReadOnlyList<double> DampingGrid => _owner.Spec.Damping.Candidates;

        public override string CriterionName => string.Create(CultureInfo.InvariantCulture, $"held-out quadratic ({_heldOut.RowCount} of {_all.RowCount} rows)");

        public override bool RebuildChosen => true;

        public override CurvatureEstimate Build() => throw new InvalidOperationException("The damping is automatic: build at a λ of the grid.");

        public override CurvatureEstimate Build(double damping) => _owner.Build(_all, damping);

        /// <summary>A candidate from the fitting rows: from one Gram per block for every λ where the sweep applies (<see cref="DampingSweep"/>), else rebuilt.</summary>
        public override CurvatureEstimate BuildCandidate(double damping) => _sweep.TryBuild(damping, null) ?? _owner.Build(_fit, damping);

        /// <inheritdoc />
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _sweep.Dispose();
            }

            base.Dispose(disposing);
        }

        public override bool OneStandardErrorRule => true;

        /// <summary>
        /// ΔL̂(δ) = ḡ_hᵀδ + ½·(1/m_h)Σ_r (g_rᵀδ)² over the held-out rows (ḡ_h = 0 unless g was asked for), δ = after −
        /// before, with the standard error of the mean over the rows.
        /// </summary>
        public override CriterionValue Criterion(ReadOnlySpan<double> before, ReadOnlySpan<double> after, ReadOnlySpan<bool> mask)
        {
            var d = before.Length;
            var delta = new double[d];
            for (var i = 0; i < d; i++)
            {
                delta[i] = after[i] - before[i];
            }

            // Per row ½(gᵣᵀδ)², plus gᵣᵀδ (its share of ḡ_hᵀδ) for WoodTaylor: OBS assumes g = 0.
            var n = _heldOut.RowCount;
            double sum = 0, sumSquares = 0;
            for (var r = 0; r < n; r++)
            {
                var row = _heldOut.Row(r);
                double dot = 0;
                for (var i = 0; i < d; i++)
                {
                    dot += row[i] * delta[i];
                }

                var term = (Gradient is null ? 0 : dot) + (0.5 * dot * dot);
                sum += term;
                sumSquares += term * term;
            }

            var mean = sum / n;
            var variance = Math.Max(0, (sumSquares / n) - (mean * mean)) * n / Math.Max(1, n - 1);
            return new CriterionValue(mean, Math.Sqrt(variance / n));
        }
    }
}
