namespace WoodFisher.Pruning;

/// <summary>
/// What one pruning step needs at the current weights and mask, gathered once: the statistics (gradients, K-FAC
/// factors, Hessian) from which H⁻¹ is built at any damping λ, the loss gradient g when WoodTaylor asks for it, and the
/// criterion by which <see cref="Damping.Auto"/> judges a pruned result. <see cref="Pruner"/> calls <see cref="Build()"/>
/// when <see cref="DampingGrid"/> is empty; otherwise it takes the step once per λ it tries from the grid with
/// <see cref="BuildCandidate"/>, keeps the λ of the lowest <see cref="Criterion"/>, and, when
/// <see cref="RebuildChosen"/>, takes the step again with <see cref="Build(double)"/> at that λ.
/// A <see cref="CurvatureEstimate"/> converts implicitly to a sample that always returns it.
/// </summary>
public abstract class CurvatureSample : IDisposable
{
    /// <summary>The λ to search (ascending), or empty when the estimate's damping is fixed.</summary>
    public virtual IReadOnlyList<double> DampingGrid => [];

    /// <summary>The loss gradient g (length d, pruned coordinates zero) for WoodTaylor, or null when not gathered.</summary>
    public double[]? Gradient { get; protected init; }

    /// <summary>Seconds spent gathering the statistics (gradients, factors, Hessian).</summary>
    public double GradientSeconds { get; protected init; }

    /// <summary>Whether <see cref="Criterion"/> can judge a result (default: when a damping grid is searched).</summary>
    public virtual bool CanJudge => DampingGrid.Count > 0;

    /// <summary>What <see cref="Criterion"/> measures, for reports.</summary>
    public virtual string CriterionName => "none";

    /// <summary>The estimate at the sample's own (fixed) damping.</summary>
    public abstract CurvatureEstimate Build();

    /// <summary>The estimate at damping λ from all the statistics.</summary>
    public abstract CurvatureEstimate Build(double damping);

    /// <summary>The estimate at λ judged during the search (default <see cref="Build(double)"/>; a sample that judges on held-out rows builds from the others).</summary>
    public virtual CurvatureEstimate BuildCandidate(double damping) => Build(damping);

    /// <summary>Whether the chosen λ is built again with <see cref="Build(double)"/> after the search (true when candidates saw fewer statistics).</summary>
    public virtual bool RebuildChosen => false;

    /// <summary>
    /// When true the pruner keeps the largest λ whose criterion is within one standard error of the lowest (the
    /// one-standard-error rule of cross-validation) rather than the lowest: for a proxy criterion that, like a quadratic
    /// model, cannot see the loss grow beyond it, so that near-ties go to the more damped, shorter step.
    /// </summary>
    public virtual bool OneStandardErrorRule => false;

    /// <summary>The criterion of a pruned result (lower is better) and its standard error.</summary>
    /// <param name="before">Weights before the step (length d, pruned coordinates zero).</param>
    /// <param name="after">Weights after the step.</param>
    /// <param name="mask">Mask after the step (true = kept).</param>
    /// <exception cref="NotSupportedException">The sample has no criterion (its damping is fixed).</exception>
    public virtual CriterionValue Criterion(ReadOnlySpan<double> before, ReadOnlySpan<double> after, ReadOnlySpan<bool> mask) =>
        throw new NotSupportedException("This curvature sample cannot judge a damping: give a fixed λ.");

    /// <summary>A sample that returns <paramref name="estimate"/> (fixed damping, no search).</summary>
    public static implicit operator CurvatureSample(CurvatureEstimate estimate) => new Fixed(estimate);

    /// <summary>A sample that returns <paramref name="estimate"/>.</summary>
    public static CurvatureSample FromEstimate(CurvatureEstimate estimate) => new Fixed(estimate);

    /// <inheritdoc/>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases held statistics.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }

    private sealed class Fixed : CurvatureSample
    {
        private readonly CurvatureEstimate _estimate;

        public Fixed(CurvatureEstimate estimate)
        {
            ArgumentNullException.ThrowIfNull(estimate);
            _estimate = estimate;
            Gradient = estimate.Gradient;
            GradientSeconds = estimate.GradientSeconds;
        }

        // The estimate was built inside the factory: its gradient time is the sample's, not the build's.
        public override CurvatureEstimate Build() => _estimate with { GradientSeconds = 0 };

        public override CurvatureEstimate Build(double damping) => Build();
    }
}

/// <summary>A criterion value (lower is better) and its standard error (0 when not estimated).</summary>
/// <param name="Value">The criterion, e.g. a mean loss.</param>
/// <param name="StandardError">Its standard error over the samples or rows it averages.</param>
public readonly record struct CriterionValue(double Value, double StandardError = 0)
{
    /// <summary>A value without a standard error.</summary>
    public static implicit operator CriterionValue(double value) => new(value);
}
