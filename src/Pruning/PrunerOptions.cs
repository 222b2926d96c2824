namespace WoodFisher.Pruning;

/// <summary>Options of <see cref="Pruner"/>.</summary>
public sealed record PrunerOptions
{
    /// <summary>The method; it sets the score unless <see cref="Score"/> overrides it.</summary>
    public PruningMethod Method { get; init; } = PruningMethod.WoodFisher;

    /// <summary>Score override; null = <see cref="PruningMethods.DefaultScore"/> of <see cref="Method"/>.</summary>
    public ScoreKind? Score { get; init; }

    /// <summary>Weight update after selection (default joint OBS).</summary>
    public UpdateMode Update { get; init; } = UpdateMode.Joint;

    /// <summary>Target sparsity s ∈ [0, 1) over the prunable coordinates.</summary>
    public double Sparsity { get; init; } = 0.5;

    /// <summary>Global threshold (default) or the same sparsity per segment.</summary>
    public SelectionMode Selection { get; init; } = SelectionMode.Global;

    /// <summary>Segment (layer) lengths summing to d; null = one segment.</summary>
    public IReadOnlyList<int>? Segments { get; init; }

    /// <summary>Per segment, whether it may be pruned (e.g. false for biases); null = all.</summary>
    public IReadOnlyList<bool>? PrunableSegments { get; init; }

    /// <summary>One-shot recompute steps K ≥ 1 (1 = a single step, tensor mode).</summary>
    public int RecomputeSteps { get; init; } = 1;

    /// <summary>How the target moves over the K steps (default cubic).</summary>
    public SparsityStepping Stepping { get; init; } = SparsityStepping.Cubic;

    /// <summary>
    /// WoodTaylor only: the fraction η of the Newton term H⁻¹g used in the score and the update (the gradient is taken
    /// as ηg). 1 (default) is the paper's WoodTaylor; 0 is OBS. With the empirical Fisher at small λ the full step
    /// −H⁻¹g can overshoot badly (measured on a Fashion-MNIST MLP: 87.6% → 22.8% test accuracy with nothing pruned),
    /// so a smaller η acts as a trust region on the first-order term.
    /// </summary>
    public double GradientStep { get; init; } = 1;

    /// <summary>
    /// WoodTaylor only: the η tried at each step, with every damping candidate, when the curvature sample can judge a
    /// result (model mode always — by the calibration loss; tensor mode with automatic damping); the lowest criterion
    /// wins. The default {0, 0.001, 0.01, 0.1, 1} contains η = 0, the OBS step, so WoodTaylor is never worse than
    /// WoodFisher on the criterion. Null or empty: <see cref="GradientStep"/> alone.
    /// </summary>
    public IReadOnlyList<double>? GradientStepGrid { get; init; } = DefaultGradientSteps;

    /// <summary>The η grid WoodTaylor searches by default.</summary>
    public static IReadOnlyList<double> DefaultGradientSteps { get; } = [0, 1e-3, 1e-2, 1e-1, 1];

    /// <summary>The effective score.</summary>
    public ScoreKind EffectiveScore => Score ?? PruningMethods.DefaultScore(Method);
}
