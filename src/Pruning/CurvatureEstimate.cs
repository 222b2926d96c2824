namespace WoodFisher.Pruning;

/// <summary>
/// What an estimator factory returns at the current weights: H⁻¹, optionally the loss gradient g (required by
/// WoodTaylor) and how long the two phases took (when the factory measured them).
/// </summary>
/// <param name="Inverse">H⁻¹ at the current weights (dimension d).</param>
public sealed record CurvatureEstimate(IInverseCurvature Inverse)
{
    /// <summary>The loss gradient g = ∇L(w) (length d), e.g. the mean per-sample gradient; null when not computed.</summary>
    public double[]? Gradient { get; init; }

    /// <summary>Seconds spent computing gradients (0 = not measured: the whole factory time counts as inverse).</summary>
    public double GradientSeconds { get; init; }

    /// <summary>Seconds spent building H⁻¹ (0 = the factory time minus <see cref="GradientSeconds"/>).</summary>
    public double InverseSeconds { get; init; }

    /// <summary>When true (default) the pruner disposes <see cref="Inverse"/> (if <see cref="IDisposable"/>) after using it.</summary>
    public bool DisposeAfterUse { get; init; } = true;
}

/// <summary>
/// Gathers what a pruning step needs at the current weights w (length d, a copy the factory may keep) and mask (length
/// d, true = kept, a copy): a <see cref="CurvatureSample"/>, from which the pruner builds H⁻¹ (at a fixed λ, or at each λ
/// of a search). Called once per recompute step; a model-backed factory recomputes per-sample gradients at w first, and
/// estimates from gradients use those of the surviving weights only (<see cref="MaskedGradientSource"/>). A factory may
/// return a <see cref="CurvatureEstimate"/> (converted implicitly).
/// </summary>
public delegate CurvatureSample CurvatureFactory(double[] weights, bool[] mask);
