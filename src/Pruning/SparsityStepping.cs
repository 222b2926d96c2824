namespace WoodFisher.Pruning;

/// <summary>How one-shot pruning with K recompute steps moves from the starting sparsity s₀ to the target s.</summary>
public enum SparsityStepping
{
    /// <summary>s_k = s₀ + (s − s₀)(1 − (1 − k/K)³): large steps first, small ones near the target (the default).</summary>
    Cubic,

    /// <summary>s_k = s₀ + (s − s₀)·k/K.</summary>
    Linear,
}
