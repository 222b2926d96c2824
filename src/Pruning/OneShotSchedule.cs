namespace WoodFisher.Pruning;

/// <summary>
/// Targets of one-shot pruning in K recompute steps k = 1..K (the curvature is re-estimated at the current weights
/// before each step): cubic s_k = s₀ + (s − s₀)(1 − (1 − k/K)³) or linear s_k = s₀ + (s − s₀)k/K; s_K = s exactly.
/// With s₀ = 0 the cubic form is s_k = s·(1 − (1 − k/K)³).
/// </summary>
public sealed class OneShotSchedule
{
    /// <summary>Creates the schedule.</summary>
    /// <param name="targetSparsity">s ∈ [0, 1).</param>
    /// <param name="steps">K ≥ 1.</param>
    /// <param name="stepping">Cubic (default) or linear.</param>
    /// <param name="initialSparsity">s₀ ∈ [0, s] (the sparsity already present).</param>
    public OneShotSchedule(double targetSparsity, int steps, SparsityStepping stepping = SparsityStepping.Cubic, double initialSparsity = 0)
    {
        MaskSelection.CheckSparsity(targetSparsity, nameof(targetSparsity));
        MaskSelection.CheckSparsity(initialSparsity, nameof(initialSparsity));
        ArgumentOutOfRangeException.ThrowIfLessThan(steps, 1);
        TargetSparsity = targetSparsity;
        InitialSparsity = Math.Min(initialSparsity, targetSparsity);
        Steps = steps;
        Stepping = stepping;
    }

    /// <summary>s.</summary>
    public double TargetSparsity { get; }

    /// <summary>s₀.</summary>
    public double InitialSparsity { get; }

    /// <summary>K.</summary>
    public int Steps { get; }

    /// <summary>Cubic or linear.</summary>
    public SparsityStepping Stepping { get; }

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
