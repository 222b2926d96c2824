namespace WoodFisher.Pruning;

/// <summary>One recompute step of <see cref="Pruner"/>.</summary>
/// <param name="Step">k = 1..K.</param>
/// <param name="TargetSparsity">s_k.</param>
/// <param name="AchievedSparsity">Fraction of prunable coordinates pruned after the step.</param>
/// <param name="Estimator">Name of the H⁻¹ estimate used.</param>
/// <param name="InverseBytes">Bytes held by that estimate.</param>
/// <param name="Timings">Seconds per phase of this step.</param>
public sealed record PruningStep(int Step, double TargetSparsity, double AchievedSparsity, string Estimator, long InverseBytes, PhaseTimings Timings)
{
    /// <summary>How the step chose λ (<see cref="Pruning.Damping.Auto"/>); null when the damping was fixed.</summary>
    public DampingSelection? Damping { get; init; }
}

/// <summary>Output of <see cref="Pruner"/>.</summary>
/// <param name="Weights">New weights w (length d); pruned coordinates are exactly 0.</param>
/// <param name="Mask">New mask (length d, true = kept, false = pruned).</param>
/// <param name="Scores">Scores of the last step (length d; lower = pruned first).</param>
/// <param name="SegmentSparsity">Fraction pruned per segment.</param>
/// <param name="Sparsity">Fraction pruned over the prunable segments.</param>
/// <param name="Timings">Seconds per phase, summed over steps.</param>
/// <param name="Steps">The recompute steps in order.</param>
public sealed record PruningResult(double[] Weights, bool[] Mask, double[] Scores, double[] SegmentSparsity, double Sparsity, PhaseTimings Timings, IReadOnlyList<PruningStep> Steps);
