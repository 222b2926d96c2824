namespace WoodFisher.Pruning;

/// <summary>How the pruned set is chosen from the scores.</summary>
public enum SelectionMode
{
    /// <summary>One threshold across all prunable segments: each layer's sparsity follows from the scores.</summary>
    Global,

    /// <summary>Every prunable segment is pruned to the same sparsity s.</summary>
    LayerwiseUniform,
}
