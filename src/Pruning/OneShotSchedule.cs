namespace WoodFisher.Pruning;

/// <summary>
/// Targets of one-shot pruning in K recompute steps k = 1..K (the curvature is re-estimated at the current weights
/// before each step): cubic s_k = s₀ + (s − s₀)(1 − (1 − k/K)³) or linear s_k = s₀ + (s − s₀)k/K; s_K = s exactly.
/// With s₀ = 0 the cubic form is s_k = s·(1 − (1 − k/K)³).
/// </summary>
/// <param name="targetSparsity">s ∈ [0, 1).</param>
/// <param name="steps">K ≥ 1.</param>
/// <param name="stepping">Cubic (default) or linear.</param>
/// <param name="initialSparsity">s₀ ∈ [0, s] (the sparsity already present; a larger one is taken as s).</param>
/// <exception cref="ArgumentOutOfRangeException">A value lies outside its range.</exception>
public sealed class OneShotSchedule(double targetSparsity, int steps, SparsityStepping stepping = SparsityStepping.Cubic, double initialSparsity = 0)
{
    /// <summary>s.</summary>
    public double TargetSparsity { get; } = MaskSelection.CheckSparsity(targetSparsity, nameof(targetSparsity));

    /// <summary>s₀.</summary>
    public double InitialSparsity { get; } = Math.Min(MaskSelection.CheckSparsity(initialSparsity, nameof(initialSparsity)), targetSparsity);

    /// <summary>K.</summary>
    public int Steps { get; } = steps >= 1 ? steps : throw new ArgumentOutOfRangeException(nameof(steps), steps, "The number of steps K must be at least 1.");

    /// <summary>Cubic or linear.</summary>
    public SparsityStepping Stepping { get; } = stepping;

    /// <summary>s_k for k ∈ [0, K] (s₀ at k = 0, s at k = K).</summary>
    public double SparsityAt(int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(k, Steps);
        if (k == Steps)
        {
            return TargetSparsity;
        }

        var x = (double)k / Steps;
        var f = Stepping == SparsityStepping.Linear ? x : 1 - Math.Pow(1 - x, 3);
        return InitialSparsity + ((TargetSparsity - InitialSparsity) * f);
    }
}
