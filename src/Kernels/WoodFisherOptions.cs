namespace WoodFisher.Kernels;

/// <summary>Options of the block-diagonal WoodFisher inverse F̂⁻¹, F̂ = λI + (1/N) Σₙ gₙgₙᵀ.</summary>
public sealed record WoodFisherOptions
{
    /// <summary>Block size c (≥ 1).</summary>
    public int BlockSize { get; init; } = 100;

    /// <summary>Damping λ (&gt; 0, finite).</summary>
    public double Damping { get; init; } = 1e-5;

    /// <summary>Normalizer N; null means the number of gradient rows that enter (after mini-batch averaging).</summary>
    public double? Normalizer { get; init; }

    /// <summary>Optional segment (layer) lengths summing to d; blocks restart at each boundary.</summary>
    public IReadOnlyList<int>? Segments { get; init; }

    /// <summary>How the inverse is computed.</summary>
    public WoodburyStrategy Strategy { get; init; } = WoodburyStrategy.Auto;

    /// <summary>Which backend runs the kernels.</summary>
    public BackendKind Backend { get; init; } = BackendKind.Auto;

    /// <summary>Storage precision.</summary>
    public Precision Precision { get; init; } = Precision.Float32;

    /// <summary>Gradients averaged in groups of this many rows before they enter (the paper's Fisher mini-batch size).</summary>
    public int MiniBatch { get; init; } = 1;

    /// <summary>Refuses a dimension and options no inverse can be built from, naming the bad value.</summary>
    /// <param name="dimension">d.</param>
    /// <param name="paramName">The caller's name for these options, for the exception.</param>
    internal void Validate(int dimension, string paramName)
    {
        if (dimension < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "The dimension d must be at least 1.");
        }

        if (BlockSize < 1)
        {
            throw new ArgumentOutOfRangeException(paramName, BlockSize, "Block size c must be at least 1.");
        }

        if (!(Damping > 0) || !double.IsFinite(Damping))
        {
            throw new ArgumentOutOfRangeException(paramName, Damping, "Damping λ must be positive and finite (e.g. 1e-5).");
        }

        if (Normalizer is { } n && (!(n > 0) || !double.IsFinite(n)))
        {
            throw new ArgumentOutOfRangeException(paramName, n, "Normalizer N must be positive and finite, or null for the number of rows.");
        }

        if (MiniBatch < 1)
        {
            throw new ArgumentOutOfRangeException(paramName, MiniBatch, "Mini-batch size must be at least 1.");
        }

        if (!Enum.IsDefined(Strategy) || !Enum.IsDefined(Backend) || !Enum.IsDefined(Precision))
        {
            throw new ArgumentOutOfRangeException(paramName, "Unknown strategy, backend or precision value.");
        }
    }
}
