namespace WoodFisher.Pruning;

/// <summary>Options of <see cref="Pruner"/>.</summary>
public sealed record PrunerOptions
{
    /// <summary>The method (from the <see cref="PruningMethod"/> registry): its score ranks the weights.</summary>
    public PruningMethod Method { get; init; } = PruningMethod.WoodFisher;

    /// <summary>Weight update after selection (default joint OBS); see <see cref="EffectiveUpdate"/>.</summary>
    public UpdateMode Update { get; init; } = UpdateMode.Joint;

    /// <summary>Target sparsity s ∈ [0, 1) over the prunable coordinates.</summary>
    public double Sparsity { get; init; } = 0.5;

    /// <summary>Global threshold (default) or the same sparsity per segment.</summary>
    public SelectionMode Selection { get; init; } = SelectionMode.Global;

    /// <summary>Segment (layer) lengths summing to d; null = one segment.</summary>
    public IReadOnlyList<int>? Segments { get; init; }

    /// <summary>Per segment, whether it may be pruned (e.g. false for biases); null = all.</summary>
    public IReadOnlyList<bool>? PrunableSegments { get; init; }

    /// <summary>
    /// What is pruned at a time (default single weights). Structured patterns score groups by <see cref="ObsGroupCost"/> and
    /// choose them by <see cref="PatternSelection"/>. N:M prunes at most its own sparsity (M − N)/M: a target at or above it
    /// (<see cref="PruningPattern.NofMSparsity"/>) completes every group, a lower one (a step of gradual pruning) prunes the
    /// cheapest groups whole. For neurons <see cref="Sparsity"/> is the fraction of hidden units removed.
    /// </summary>
    public PruningPattern Pattern { get; init; } = PruningPattern.Unstructured;

    /// <summary>Per segment, the tensor's shape ([out, in], [out, in, k, k], [out] for a bias): rows of the block and neuron patterns; null = none.</summary>
    public IReadOnlyList<int[]>? SegmentShapes { get; init; }

    /// <summary>One-shot recompute steps K ≥ 1 (1 = a single step, tensor mode).</summary>
    public int RecomputeSteps { get; init; } = 1;

    /// <summary>
    /// With an automatic damping, evaluate every λ of the grid (true) instead of walking it (false, default: downhill from
    /// the middle, then from the largest λ when it is better; about half the candidates, the same choice on a criterion
    /// with one basin; see docs/fidelity.md).
    /// </summary>
    public bool WholeDampingGrid { get; init; }

    /// <summary>How the target moves over the K steps (default cubic).</summary>
    public SparsityStepping Stepping { get; init; } = SparsityStepping.Cubic;

    /// <summary>
    /// WoodTaylor only: the fraction η of the Newton term H⁻¹g used in the score and the update (the gradient is taken
    /// as ηg) when η is not searched (<see cref="GradientStepGrid"/>). 1 (default) is the paper's WoodTaylor; 0 is OBS. With the empirical Fisher at small λ the full step
    /// −H⁻¹g can overshoot badly (measured on a Fashion-MNIST MLP: 87.6% → 22.8% test accuracy with nothing pruned),
    /// so a smaller η acts as a trust region on the first-order term.
    /// </summary>
    public double GradientStep { get; init; } = 1;

    /// <summary>
    /// WoodTaylor only: the η tried at each step, with every damping candidate, when the curvature sample can judge a
    /// result (model mode always — by the calibration loss; gradient rows alone with automatic damping — by the held-out
    /// quadratic); the lowest criterion wins. The default {0, 0.001, 0.01, 0.1, 1} contains η = 0, the OBS step, so
    /// WoodTaylor is never worse than WoodFisher on the criterion. Null or empty: <see cref="GradientStep"/> alone.
    /// </summary>
    public IReadOnlyList<double>? GradientStepGrid { get; init; } = DefaultGradientSteps;

    /// <summary>The η grid WoodTaylor searches by default.</summary>
    public static IReadOnlyList<double> DefaultGradientSteps { get; } = [0, 1e-3, 1e-2, 1e-1, 1];

    /// <summary>The update applied: <see cref="Update"/>, or <see cref="UpdateMode.None"/> for magnitude (which moves no other weight).</summary>
    public UpdateMode EffectiveUpdate => Method.EffectiveUpdate(Update);
}
